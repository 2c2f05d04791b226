// The prediction page: post the form, then wait for the answer on the push channel (Server-Sent
// Events), falling back to polling the response route; give up with a clear message at the deadline.
(function () {
  "use strict";

  const form = document.getElementById("predict-form");
  if (!form) return;
  const result = document.getElementById("result");
  const statusLine = document.getElementById("status");
  const answer = document.getElementById("answer");
  const submitButton = document.getElementById("submit");
  const labels = JSON.parse(result.dataset.labels || "[]");
  const deadlineMs = parseFloat(form.dataset.deadlineS || "30") * 1000;
  const pollMs = parseFloat(form.dataset.pollIntervalS || "1") * 1000;
  const SVG = "http://www.w3.org/2000/svg";
  let current = null; // the request being waited for; a new submit cancels it

  const urlFor = (template, id) => template.replace("__ID__", encodeURIComponent(id));

  // --- airport names under the code fields ---------------------------------------------------
  const airportNames = new Map();
  document.querySelectorAll("#airports option").forEach((o) => airportNames.set(o.value, o.textContent));
  ["Origin", "Dest"].forEach((name) => {
    const input = document.getElementById(name);
    const hint = document.getElementById("hint-" + name);
    const show = () => {
      const code = input.value.trim().toUpperCase();
      hint.textContent = code.length === 3 ? airportNames.get(code) || "not in the airport list" : "";
    };
    input.addEventListener("input", show);
    show();
  });

  // --- inline errors ---------------------------------------------------------------------------
  function clearErrors() {
    form.querySelectorAll(".error").forEach((p) => (p.textContent = ""));
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  }

  function showErrors(errors, message) {
    let placed = false;
    Object.entries(errors || {}).forEach(([field, text]) => {
      const slot = document.getElementById("error-" + field);
      const input = document.getElementById(field);
      if (slot && input) {
        slot.textContent = text;
        input.setAttribute("aria-invalid", "true");
        placed = true;
      } else {
        document.getElementById("error-body").textContent += `${field}: ${text} `;
        placed = true;
      }
    });
    if (!placed) document.getElementById("error-body").textContent = message || "The request was refused.";
    const first = form.querySelector("[aria-invalid]");
    if (first) first.focus();
  }

  // --- status and result ---------------------------------------------------------------------
  function setStatus(text, kind) {
    result.hidden = false;
    statusLine.textContent = text;
    statusLine.className = "status" + (kind ? " " + kind : "");
    result.dataset.state = kind || "waiting";
  }

  function seconds(ms) {
    return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  }

  function drawChart(probabilities, predicted) {
    const svg = document.getElementById("chart");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const rowHeight = 34, labelWidth = 250, barMax = 200;
    labels.forEach((label, i) => {
      const p = Number(probabilities && probabilities[i]) || 0;
      const y = i * rowHeight;
      const row = document.createElementNS(SVG, "g");
      row.setAttribute("class", "bar" + (i === predicted ? " predicted" : ""));
      const text = document.createElementNS(SVG, "text");
      text.setAttribute("x", "0");
      text.setAttribute("y", String(y + 20));
      text.textContent = label;
      const track = document.createElementNS(SVG, "rect");
      track.setAttribute("class", "track");
      track.setAttribute("x", String(labelWidth));
      track.setAttribute("y", String(y + 6));
      track.setAttribute("width", String(barMax));
      track.setAttribute("height", "20");
      const bar = document.createElementNS(SVG, "rect");
      bar.setAttribute("class", "fill");
      bar.setAttribute("x", String(labelWidth));
      bar.setAttribute("y", String(y + 6));
      bar.setAttribute("width", String(Math.max(0, Math.min(1, p)) * barMax));
      bar.setAttribute("height", "20");
      const value = document.createElementNS(SVG, "text");
      value.setAttribute("class", "value");
      value.setAttribute("x", String(labelWidth + barMax + 8));
      value.setAttribute("y", String(y + 20));
      value.textContent = (p * 100).toFixed(1) + " %";
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${label}: ${(p * 100).toFixed(1)} %`;
      row.append(title, text, track, bar, value);
      svg.appendChild(row);
    });
  }

  function showPrediction(envelope, elapsedMs, channel) {
    const p = envelope.prediction || {};
    const index = Math.round(Number(p.Prediction));
    const label = p.PredictionLabel || "unknown class"; // the server always names the class
    setStatus(`Answer received by ${channel}.`, "done");
    document.getElementById("prediction-label").textContent = label;
    document.getElementById("prediction-label").dataset.classIndex = String(index);
    document.getElementById("prediction-route").textContent =
      `${p.Origin || "?"} → ${p.Dest || "?"} · ${p.Carrier || ""}${p.FlightNum ? " " + p.FlightNum : ""} · ${p.FlightDate || ""}` +
      (typeof p.Distance === "number" ? ` · ${Math.round(p.Distance)} miles` : "");
    drawChart(p.Probabilities, index);
    document.getElementById("model-version").textContent = p.ModelVersion || "unknown";
    const latency = document.getElementById("latency");
    latency.textContent = `${seconds(elapsedMs)} (${channel})`;
    latency.dataset.ms = String(Math.round(elapsedMs));
    const produced = Date.parse(p.RequestProducedAt), scored = Date.parse(p.ScoredAt);
    document.getElementById("server-latency").textContent =
      Number.isFinite(produced) && Number.isFinite(scored) ? seconds(scored - produced) : "not reported";
    document.getElementById("request-id").textContent = envelope.id || "";
    answer.hidden = false;
  }

  // --- waiting for the answer ----------------------------------------------------------------
  function waitForAnswer(id, started) {
    const state = { done: false, source: null, pollTimer: null, deadlineTimer: null };
    const stop = () => {
      state.done = true;
      if (state.source) state.source.close();
      clearTimeout(state.pollTimer);
      clearTimeout(state.deadlineTimer);
      submitButton.disabled = false;
    };
    state.stop = stop;
    current = state;

    const deliver = (envelope, channel) => {
      if (state.done) return;
      stop();
      showPrediction(envelope, performance.now() - started, channel);
    };

    state.deadlineTimer = setTimeout(() => {
      if (state.done) return;
      stop();
      setStatus(
        `No prediction after ${Math.round(deadlineMs / 1000)} s. The request is in Kafka, but the ` +
          "streaming scorer did not answer: it may be stopped or still loading its model. " +
          "Try again later; the answer will also be kept under request id " + id + ".",
        "problem"
      );
    }, deadlineMs);

    const poll = async () => {
      if (state.done) return;
      try {
        const res = await fetch(urlFor(form.dataset.responseUrl, id), { headers: { Accept: "application/json" } });
        const body = await res.json().catch(() => ({}));
        if (state.done) return;
        if (res.ok && body.status === "OK") return deliver(body, "polling");
        if (res.status === 404) {
          stop();
          return setStatus(`This request is unknown to the server (${body.message || "it may have restarted"}). Please send it again.`, "problem");
        }
        if (res.status === 503) setStatus(`Still waiting; ${body.message || "a service is down"}.`, "warning");
      } catch (err) {
        if (!state.done) setStatus("Still waiting; the server did not answer the last poll.", "warning");
      }
      if (!state.done) state.pollTimer = setTimeout(poll, pollMs);
    };
    const fallBackToPolling = () => {
      if (state.source) state.source.close();
      state.source = null;
      if (!state.done && !state.pollTimer) poll();
    };

    if (!("EventSource" in window)) return fallBackToPolling();
    const source = new EventSource(urlFor(form.dataset.streamUrl, id));
    state.source = source;
    source.addEventListener("prediction", (e) => deliver(JSON.parse(e.data), "push"));
    source.addEventListener("timeout", fallBackToPolling);
    source.addEventListener("unavailable", (e) => {
      const body = JSON.parse(e.data);
      setStatus(`Still waiting; ${body.message}.`, "warning");
    });
    source.onerror = () => {
      if (!state.done) fallBackToPolling();
    };
  }

  // --- submit -----------------------------------------------------------------------------------
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (current) current.stop(); // a new request: stop waiting for the previous answer
    clearErrors();
    answer.hidden = true;
    submitButton.disabled = true;
    setStatus("Sending the request…");
    const started = performance.now();
    let res, body;
    try {
      res = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json" },
      });
      body = await res.json().catch(() => ({}));
    } catch (err) {
      submitButton.disabled = false;
      setStatus("The web server did not answer: check your connection and try again.", "problem");
      return;
    }
    if (res.status === 400 || res.status === 413) {
      submitButton.disabled = false;
      result.hidden = true;
      showErrors(body.errors, body.message);
      return;
    }
    if (res.status === 503) {
      submitButton.disabled = false;
      setStatus(`The request could not be sent: ${body.message || "a service is down"}. Try again in a minute.`, "problem");
      return;
    }
    if (!res.ok || body.status !== "OK") {
      submitButton.disabled = false;
      setStatus(`The server could not take the request (HTTP ${res.status}). ${body.message || ""}`, "problem");
      return;
    }
    setStatus("Request accepted; waiting for the model's answer…");
    document.getElementById("request-id").textContent = body.id;
    waitForAnswer(body.id, started);
  });
})();
