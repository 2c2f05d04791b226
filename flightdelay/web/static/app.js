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
  const flagText = JSON.parse(result.dataset.flags || "{}");
  const modelWindow = JSON.parse(result.dataset.window || "{}");
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

  // --- checks before sending (the server checks the same and more) ------------------------------
  const value = (name) => (form.elements[name].value || "").trim();

  function fieldErrors() {
    const errors = {};
    ["Origin", "Dest"].forEach((name) => {
      const code = value(name).toUpperCase();
      if (!code) errors[name] = "is required";
      else if (!/^[A-Z]{3}$/.test(code)) errors[name] = "must be a 3-letter airport code";
      else if (!airportNames.has(code)) errors[name] = `unknown airport ${code}: choose one from the list`;
    });
    if (!errors.Dest && value("Dest").toUpperCase() === value("Origin").toUpperCase()) errors.Dest = "must differ from Origin";
    if (!value("Carrier")) errors.Carrier = "is required";
    if (!value("FlightDate")) errors.FlightDate = "is required";
    const delay = value("DepDelay"), input = form.elements.DepDelay;
    if (!delay) errors.DepDelay = "is required";
    else if (!Number.isFinite(Number(delay))) errors.DepDelay = "must be a number";
    else if (Math.abs(Number(delay)) > Number(input.max)) errors.DepDelay = `must be between ${input.min} and ${input.max}`;
    const flightNum = value("FlightNum");
    if (flightNum && !/^[0-9]{1,5}$/.test(flightNum)) errors.FlightNum = "must be 1 to 5 digits";
    return errors;
  }

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

  // On a phone the labels go above their bars, in the same pixel size as the page's text.
  function drawChart(probabilities, predicted) {
    const svg = document.getElementById("chart");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const width = Math.max(240, Math.round(svg.parentElement.clientWidth || 520));
    const narrow = width < 480;
    const rowHeight = narrow ? 46 : 34, labelWidth = narrow ? 0 : 250, valueWidth = 64;
    const barTop = narrow ? 22 : 6, barMax = Math.min(200, width - labelWidth - valueWidth - 8);
    svg.setAttribute("viewBox", `0 0 ${width} ${rowHeight * labels.length}`);
    svg.setAttribute("height", String(rowHeight * labels.length));
    const element = (name, attributes, text) => {
      const node = document.createElementNS(SVG, name);
      Object.entries(attributes).forEach(([key, v]) => node.setAttribute(key, String(v)));
      if (text !== undefined) node.textContent = text;
      return node;
    };
    labels.forEach((label, i) => {
      const p = Number(probabilities && probabilities[i]) || 0;
      const y = i * rowHeight;
      const percent = (p * 100).toFixed(1) + " %";
      const row = element("g", { class: "bar" + (i === predicted ? " predicted" : "") });
      row.append(
        element("title", {}, `${label}: ${percent}`),
        element("text", { x: 0, y: y + (narrow ? 15 : 20) }, label),
        element("rect", { class: "track", x: labelWidth, y: y + barTop, width: barMax, height: 20 }),
        element("rect", { class: "fill", x: labelWidth, y: y + barTop, width: Math.max(0, Math.min(1, p)) * barMax, height: 20 }),
        element("text", { class: "value", x: labelWidth + barMax + 8, y: y + barTop + 14 }, percent)
      );
      svg.appendChild(row);
    });
  }

  let shown = null; // the prediction on the page, redrawn when the page's width changes
  window.addEventListener("resize", () => {
    if (shown) drawChart(shown.Probabilities, Math.round(Number(shown.Prediction)));
  });

  // Where the request lies outside what the model learned from, in words (the Flags codes).
  function flagWords(p) {
    const detail = {
      carrier_not_in_training_data: p.Carrier,
      origin_not_in_training_data: p.Origin,
      dest_not_in_training_data: p.Dest,
      route_not_in_training_data: `${p.Origin} → ${p.Dest}`,
      date_outside_training_window: modelWindow.first
        ? `${p.FlightDate}; it knows ${modelWindow.first} to ${modelWindow.last}`
        : p.FlightDate,
    };
    return (p.Flags || []).map((code) => `${flagText[code] || code} (${detail[code] || ""}).`.replace(" ().", "."));
  }

  // a date or a route kept on one line
  const unbroken = (text) => Object.assign(document.createElement("span"), { className: "nowrap", textContent: text });
  const TOKEN = /([0-9]{4}-[0-9]{2}-[0-9]{2}|[A-Z0-9]{3} → [A-Z0-9]{3})/;

  function showFlags(p) {
    const list = document.getElementById("flags");
    list.replaceChildren(...flagWords(p).map((words) => {
      const item = document.createElement("li");
      item.append(...words.split(TOKEN).map((piece, i) => (i % 2 ? unbroken(piece) : piece)));
      return item;
    }));
    document.getElementById("caveats").hidden = list.children.length === 0;
  }

  function showPrediction(envelope, elapsedMs, channel) {
    const p = envelope.prediction || {};
    const index = Math.round(Number(p.Prediction));
    const label = p.PredictionLabel || "unknown class"; // the server always names the class
    setStatus(`Answer received by ${channel}.`, "done");
    document.getElementById("prediction-label").textContent = label;
    document.getElementById("prediction-label").dataset.classIndex = String(index);
    // one span per part, so a narrow screen wraps between the parts, never inside one
    const parts = [
      `${p.Origin || "?"} → ${p.Dest || "?"}`,
      `${p.Carrier || ""}${p.FlightNum ? " " + p.FlightNum : ""}`,
      p.FlightDate || "",
      typeof p.Distance === "number" ? `${Math.round(p.Distance)} miles` : "",
    ].filter(Boolean);
    document.getElementById("prediction-route").replaceChildren(
      ...parts.flatMap((text, i) => [...(i ? [" · "] : []), unbroken(text)])
    );
    shown = p;
    answer.hidden = false; // drawn visible, so the chart can measure its width
    drawChart(p.Probabilities, index);
    showFlags(p);
    document.getElementById("model-version").textContent = p.ModelVersion || "unknown";
    document.getElementById("model-accuracy").textContent =
      typeof p.ModelAccuracy === "number" ? `${(p.ModelAccuracy * 100).toFixed(1)} % of the flights it was tested on` : "not reported";
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
    const problems = fieldErrors();
    if (Object.keys(problems).length) {
      result.hidden = true;
      showErrors(problems);
      return;
    }
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
