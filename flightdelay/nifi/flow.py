"""Apply the versioned NiFi flow definition (nifi/prediction_flow.json) through NiFi's REST API.

The definition is a small declarative format of our own (format "flightdelay-nifi-flow/1"):

    {"process_group": NAME, "comments": TEXT,
     "controller_services": [{"name", "type", "properties": {...}}],
     "processors": [{"name", "type", "properties": {...}, "schedule": "10 sec", "concurrency": 1,
                     "penalty": "30 sec", "yield": "1 sec", "auto_terminate": [REL, ...],
                     "position": [x, y], "comments": TEXT}],
     "connections": [{"from": PROCESSOR NAME, "to": PROCESSOR NAME, "relationships": [REL, ...],
                      "prioritizers": [CLASS, ...], "comments": TEXT}]}

`{{name}}` in any string is replaced by that attribute of the settings (e.g. {{response_topic}}).
Applying is idempotent: components are found by name inside the one process group of that name
under the root group, created when missing, updated when they differ (stopped first, started
again after), and components of that group that the definition no longer names are removed
(a connection only when its queue is empty). Controller services are enabled, processors started.
Applying twice leaves one flow.

`python -m flightdelay.nifi.flow` gives the embedded NiFi's user its rights on the root group
(grant_admin_policies) and applies the flow to the running NiFi.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from flightdelay.nifi.client import FlowError, NiFiClient
from flightdelay.settings import PROJECT_ROOT, Settings
from flightdelay.waiting import WaitTimeout, wait_until

DEFAULT_FLOW = PROJECT_ROOT / "nifi" / "prediction_flow.json"
FORMAT = "flightdelay-nifi-flow/1"
DEFAULT_PRIORITIZERS = ["org.apache.nifi.prioritizer.OldestFlowFileFirstPrioritizer"]
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
SENSITIVE_MASK = "********"  # how NiFi shows a sensitive property that is set


# --- the definition -------------------------------------------------------------------------------
def _substitute(value: Any, settings: Settings) -> Any:
    if isinstance(value, str):

        def one(match: re.Match) -> str:
            name = match.group(1)
            if not hasattr(settings, name):
                raise FlowError(f"unknown setting {{{{{name}}}}} in the flow definition")
            return str(getattr(settings, name))

        return _PLACEHOLDER.sub(one, value)
    if isinstance(value, list):
        return [_substitute(v, settings) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, settings) for k, v in value.items()}
    return value


def load_definition(settings: Settings, path: Path = DEFAULT_FLOW) -> dict:
    """Read, check and fill in a flow definition."""
    raw = json.loads(Path(path).read_text())
    if raw.get("format") != FORMAT:
        raise FlowError(f"{path}: format must be {FORMAT!r}")
    if not raw.get("process_group"):
        raise FlowError(f"{path}: process_group is required")
    definition = _substitute(raw, settings)
    names: set[str] = set()
    for kind in ("controller_services", "processors"):
        for component in definition.setdefault(kind, []):
            for key in ("name", "type"):
                if not component.get(key):
                    raise FlowError(f"{path}: a {kind[:-1].replace('_', ' ')} has no {key}")
            if component["name"] in names:
                raise FlowError(f"{path}: the name {component['name']!r} is used twice")
            names.add(component["name"])
            component.setdefault("properties", {})
    processors = {p["name"] for p in definition["processors"]}
    seen = set()
    for conn in definition.setdefault("connections", []):
        for end in ("from", "to"):
            if conn.get(end) not in processors:
                raise FlowError(f"{path}: connection {end} {conn.get(end)!r} names no processor")
        if not conn.get("relationships"):
            raise FlowError(f"{path}: connection {conn['from']} -> {conn['to']} selects no relationship")
        key = (conn["from"], conn["to"])
        if key in seen:
            raise FlowError(f"{path}: two connections {conn['from']} -> {conn['to']}: merge their relationships")
        seen.add(key)
    return definition


# --- policies ----------------------------------------------------------------------------------------
def grant_admin_policies(client: NiFiClient, user: str) -> list[str]:
    """Give the user rights on the root process group (and provenance, counters, system).

    The file-based authorizer makes the user the initial admin before any flow exists, so the admin
    has the global policies but none on the root group: component calls answer 403 until these
    exist. Idempotent; returns the policies it created or extended.
    """
    root = client.get("/flow/process-groups/root")["processGroupFlow"]["id"]
    users = client.get("/tenants/users")["users"]
    matching = [u for u in users if u["component"]["identity"] == user]
    if not matching:
        raise FlowError(f"NiFi has no user {user!r} (conf/users.xml)")
    user_id = matching[0]["id"]
    wanted = [
        ("read", f"/process-groups/{root}"), ("write", f"/process-groups/{root}"),
        ("read", f"/data/process-groups/{root}"), ("write", f"/data/process-groups/{root}"),
        ("write", f"/operation/process-groups/{root}"),
        ("read", f"/provenance-data/process-groups/{root}"),
        ("read", f"/policies/process-groups/{root}"), ("write", f"/policies/process-groups/{root}"),
        ("read", "/provenance"), ("read", "/system"), ("read", "/counters"), ("write", "/counters"),
    ]  # fmt: skip
    changed = []
    for action, resource in wanted:
        existing = client.request("GET", f"/policies/{action}{resource}", expect=(200, 404))
        # NiFi answers with the nearest inherited policy when there is none for this resource
        if isinstance(existing, dict) and existing.get("component", {}).get("resource") == resource:
            component = existing["component"]
            if any(u["id"] == user_id for u in component.get("users", [])):
                continue
            component["users"] = [*component.get("users", []), {"id": user_id}]
            client.put(f"/policies/{component['id']}", {"revision": existing["revision"], "component": component})
        else:
            client.post(
                "/policies",
                {"revision": {"version": 0},
                 "component": {"action": action, "resource": resource, "users": [{"id": user_id}]}},
            )  # fmt: skip
        changed.append(f"{action} {resource}")
    return changed


# --- applying -----------------------------------------------------------------------------------------
@dataclass
class ApplyReport:
    process_group_id: str = ""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{k} {', '.join(v)}" for k, v in
                 (("created", self.created), ("updated", self.updated), ("removed", self.removed),
                  ("started", self.started), ("kept (not empty)", self.kept)) if v]  # fmt: skip
        return "; ".join(parts) or "already up to date"


def _position(spec: dict) -> dict:
    x, y = spec.get("position", [0, 0])
    return {"x": float(x), "y": float(y)}


def _revision(entity: dict) -> dict:
    return {"version": entity["revision"]["version"]}


def find_process_group(client: NiFiClient, name: str) -> dict | None:
    flow = client.get("/flow/process-groups/root")["processGroupFlow"]
    for group in flow["flow"]["processGroups"]:
        if group["component"]["name"] == name:
            return group
    return None


def _types(client: NiFiClient, kind: str) -> dict[str, list[dict]]:
    path, key = {
        "processor": ("/flow/processor-types", "processorTypes"),
        "controller_service": ("/flow/controller-service-types", "controllerServiceTypes"),
    }[kind]
    by_name: dict[str, list[dict]] = {}
    for entry in client.get(path)[key]:
        by_name.setdefault(entry["type"], []).append(entry)
        by_name.setdefault(entry["type"].rsplit(".", 1)[-1], []).append(entry)
    return by_name


def _resolve_type(types: dict[str, list[dict]], spec: dict, kind: str) -> tuple[str, dict]:
    candidates = types.get(spec["type"], [])
    if not candidates:
        raise FlowError(f"{kind} type {spec['type']} (for {spec['name']!r}) is not available in this NiFi")
    if len({(c["type"], c["bundle"]["group"], c["bundle"]["artifact"]) for c in candidates}) > 1:
        raise FlowError(f"{kind} type {spec['type']} is ambiguous: give the full class name")
    best = max(candidates, key=lambda c: c["bundle"]["version"])
    return best["type"], best["bundle"]


def _wait(what: str, check: Callable[[], str | None], timeout: float, interval: float = 0.5) -> None:
    """wait_until, failing as a FlowError like every other refusal of NiFi's."""
    try:
        wait_until(check, what, timeout=timeout, interval=interval)
    except WaitTimeout as exc:
        raise FlowError(str(exc)) from None


def _set_processor_state(client: NiFiClient, processor_id: str, state: str, timeout: float = 60) -> None:
    entity = client.get(f"/processors/{processor_id}")
    if entity["component"]["state"] != state:
        client.put(f"/processors/{processor_id}/run-status", {"revision": _revision(entity), "state": state})
    if state == "STOPPED":
        # stopped means no thread left in onTrigger/onStopped: the last session is committed
        def stopped() -> str | None:
            current = client.get(f"/processors/{processor_id}")
            threads = current["status"]["aggregateSnapshot"].get("activeThreadCount", 0)
            if current["component"]["state"] == "STOPPED" and threads == 0:
                return None
            return f"{current['component']['state']}, {threads} active threads"

        _wait(f"processor {entity['component']['name']} to stop", stopped, timeout)


def _set_service_state(client: NiFiClient, service_id: str, state: str, timeout: float = 60) -> None:
    entity = client.get(f"/controller-services/{service_id}")
    if entity["component"]["state"] != state:
        client.put(f"/controller-services/{service_id}/run-status", {"revision": _revision(entity), "state": state})

    def reached() -> str | None:
        now = client.get(f"/controller-services/{service_id}")["component"]["state"]
        return None if now == state else now

    _wait(f"controller service {entity['component']['name']} to be {state}", reached, timeout)


def _wait_loaded(client: NiFiClient, processor_id: str, names: set[str], timeout: float) -> dict:
    """Python processors load asynchronously: wait until NiFi knows their property descriptors."""
    holder: dict = {}

    def loaded() -> str | None:
        holder["entity"] = client.get(f"/processors/{processor_id}")
        missing = names - set(holder["entity"]["component"]["config"].get("descriptors", {}))
        return f"unknown properties {sorted(missing)}" if missing else None

    try:
        _wait("its property descriptors", loaded, timeout, interval=1.0)
    except FlowError:
        known = sorted(holder["entity"]["component"]["config"].get("descriptors", {}))
        name = holder["entity"]["component"]["name"]
        raise FlowError(
            f"processor {name!r}: properties {sorted(names - set(known))} unknown (known: {known}); "
            f"validation: {holder['entity']['component'].get('validationErrors')}"
        ) from None
    return holder["entity"]


def _processor_config(spec: dict, service_ids: dict[str, str]) -> dict:
    properties = {}
    for key, value in spec["properties"].items():
        # a property may name a controller service of the definition: {"service": NAME}
        if isinstance(value, dict) and "service" in value:
            value = service_ids[value["service"]]
        properties[key] = None if value is None else str(value)
    config = {
        "properties": properties,
        "schedulingStrategy": "TIMER_DRIVEN",
        "schedulingPeriod": spec.get("schedule", "0 sec"),
        "concurrentlySchedulableTaskCount": int(spec.get("concurrency", 1)),
        "autoTerminatedRelationships": sorted(spec.get("auto_terminate", [])),
        "comments": spec.get("comments", ""),
    }
    if "penalty" in spec:
        config["penaltyDuration"] = spec["penalty"]
    if "yield" in spec:
        config["yieldDuration"] = spec["yield"]
    return config


def _config_differs(current: dict, desired: dict) -> bool:
    for key, value in desired.items():
        if key == "properties":
            now = current.get("properties", {})
            # NiFi never shows a set sensitive value (a password): it is taken as unchanged
            if any(now.get(k) != v and now.get(k) != SENSITIVE_MASK for k, v in value.items()):
                return True
        elif key == "autoTerminatedRelationships":
            if sorted(current.get(key) or []) != value:
                return True
        elif (current.get(key) or "") != value:
            return True
    return False


def apply_flow(
    settings: Settings,
    definition: dict | None = None,
    client: NiFiClient | None = None,
    log: Callable[[str], None] = print,
    load_timeout: float = 180.0,
) -> ApplyReport:
    """Make NiFi's process group match the definition, then enable and start it."""
    definition = definition or load_definition(settings)
    client = client or NiFiClient.for_settings(settings)
    report = ApplyReport()
    name = definition["process_group"]

    # 1. the process group, found by name under the root group
    group = find_process_group(client, name)
    if group is None:
        root = client.get("/flow/process-groups/root")["processGroupFlow"]["id"]
        group = client.post(
            f"/process-groups/{root}/process-groups",
            {"revision": {"version": 0},
             "component": {"name": name, "position": {"x": 0.0, "y": 0.0},
                           "comments": definition.get("comments", "")}},
        )  # fmt: skip
        report.created.append(f"process group {name}")
    elif group["component"].get("comments", "") != definition.get("comments", ""):
        group = client.put(
            f"/process-groups/{group['id']}",
            {"revision": _revision(group),
             "component": {"id": group["id"], "comments": definition.get("comments", "")}},
        )  # fmt: skip
    pg = group["id"]
    report.process_group_id = pg

    # 2. controller services
    service_types = _types(client, "controller_service") if definition["controller_services"] else {}
    existing_services = {
        s["component"]["name"]: s
        for s in client.get(f"/flow/process-groups/{pg}/controller-services",
                            includeAncestorGroups="false", includeDescendantGroups="false")["controllerServices"]
        if s["component"].get("parentGroupId") == pg
    }  # fmt: skip
    service_ids: dict[str, str] = {}
    for spec in definition["controller_services"]:
        type_, bundle = _resolve_type(service_types, spec, "controller service")
        desired = {k: (None if v is None else str(v)) for k, v in spec["properties"].items()}
        entity = existing_services.get(spec["name"])
        if entity is None:
            entity = client.post(
                f"/process-groups/{pg}/controller-services",
                {"revision": {"version": 0},
                 "component": {"type": type_, "bundle": bundle, "name": spec["name"], "properties": desired,
                               "comments": spec.get("comments", "")}},
            )  # fmt: skip
            report.created.append(f"service {spec['name']}")
        elif any(entity["component"]["properties"].get(k) != v for k, v in desired.items()):
            _set_service_state(client, entity["id"], "DISABLED")  # NiFi stops referencing processors first
            entity = client.get(f"/controller-services/{entity['id']}")
            entity = client.put(
                f"/controller-services/{entity['id']}",
                {"revision": _revision(entity), "component": {"id": entity["id"], "properties": desired}},
            )
            report.updated.append(f"service {spec['name']}")
        service_ids[spec["name"]] = entity["id"]

    # 3. processors
    processor_types = _types(client, "processor")
    existing_processors = {p["component"]["name"]: p for p in client.get(f"/process-groups/{pg}/processors")["processors"]}
    processor_ids: dict[str, str] = {}
    for spec in definition["processors"]:
        type_, bundle = _resolve_type(processor_types, spec, "processor")
        desired = _processor_config(spec, service_ids)
        entity = existing_processors.get(spec["name"])
        if entity is None:
            entity = client.post(
                f"/process-groups/{pg}/processors",
                {"revision": {"version": 0},
                 "component": {"type": type_, "bundle": bundle, "name": spec["name"], "position": _position(spec)}},
            )  # fmt: skip
            report.created.append(f"processor {spec['name']}")
            fresh = True
        else:
            fresh = False
            if entity["component"]["type"] != type_:
                raise FlowError(
                    f"processor {spec['name']!r} in NiFi is a {entity['component']['type']}, the definition says "
                    f"{type_}: remove it in NiFi or rename it in the definition"
                )
        entity = _wait_loaded(client, entity["id"], set(desired["properties"]), load_timeout)
        if fresh or _config_differs(entity["component"]["config"], desired):
            if entity["component"]["state"] == "RUNNING":
                _set_processor_state(client, entity["id"], "STOPPED")
                entity = client.get(f"/processors/{entity['id']}")
            entity = client.put(
                f"/processors/{entity['id']}",
                {"revision": _revision(entity),
                 "component": {"id": entity["id"], "name": spec["name"], "config": desired}},
            )  # fmt: skip
            if not fresh:
                report.updated.append(f"processor {spec['name']}")
        processor_ids[spec["name"]] = entity["id"]

    # 4. connections, keyed by (source, destination)
    wanted_connections = {(processor_ids[c["from"]], processor_ids[c["to"]]): c for c in definition["connections"]}
    existing_connections = client.get(f"/process-groups/{pg}/connections")["connections"]
    present = set()
    for entity in existing_connections:
        component = entity["component"]
        key = (component["source"]["id"], component["destination"]["id"])
        spec = wanted_connections.get(key)
        if spec is None:
            label = f"connection {component['source']['name']} -> {component['destination']['name']}"
            if entity["status"]["aggregateSnapshot"].get("flowFilesQueued", 0):
                report.kept.append(label)
                log(f"  nifi: {label} is no longer defined but still holds FlowFiles: kept")
            else:
                # NiFi deletes a connection only while both ends are stopped; step 6 restarts
                # the ones the definition keeps
                for end in (component["source"]["id"], component["destination"]["id"]):
                    _set_processor_state(client, end, "STOPPED")
                client.delete(f"/connections/{entity['id']}", version=entity["revision"]["version"])
                report.removed.append(label)
            continue
        present.add(key)
        relationships = sorted(spec["relationships"])
        prioritizers = spec.get("prioritizers", DEFAULT_PRIORITIZERS)
        if (sorted(component.get("selectedRelationships") or []) != relationships
                or (component.get("prioritizers") or []) != prioritizers):  # fmt: skip
            for end in key:
                _set_processor_state(client, end, "STOPPED")
            entity = client.get(f"/connections/{entity['id']}")
            client.put(
                f"/connections/{entity['id']}",
                {"revision": _revision(entity),
                 "component": {"id": entity["id"], "selectedRelationships": relationships,
                               "prioritizers": prioritizers}},
            )  # fmt: skip
            report.updated.append(f"connection {spec['from']} -> {spec['to']}")
    for key, spec in wanted_connections.items():
        if key in present:
            continue
        source, destination = key
        client.post(
            f"/process-groups/{pg}/connections",
            {"revision": {"version": 0},
             "component": {
                 "name": spec.get("comments", ""),
                 "source": {"id": source, "groupId": pg, "type": "PROCESSOR"},
                 "destination": {"id": destination, "groupId": pg, "type": "PROCESSOR"},
                 "selectedRelationships": sorted(spec["relationships"]),
                 "prioritizers": spec.get("prioritizers", DEFAULT_PRIORITIZERS)}},
        )  # fmt: skip
        report.created.append(f"connection {spec['from']} -> {spec['to']}")

    # 5. components the definition no longer names
    for pname, entity in existing_processors.items():
        if pname in processor_ids:
            continue
        remaining = [c for c in client.get(f"/process-groups/{pg}/connections")["connections"]
                     if entity["id"] in (c["component"]["source"]["id"], c["component"]["destination"]["id"])]  # fmt: skip
        if remaining:
            report.kept.append(f"processor {pname}")
            continue
        _set_processor_state(client, entity["id"], "STOPPED")
        current = client.get(f"/processors/{entity['id']}")
        client.delete(f"/processors/{entity['id']}", version=current["revision"]["version"])
        report.removed.append(f"processor {pname}")
    for sname, entity in existing_services.items():
        if sname in service_ids:
            continue
        _set_service_state(client, entity["id"], "DISABLED")
        current = client.get(f"/controller-services/{entity['id']}")
        client.delete(f"/controller-services/{entity['id']}", version=current["revision"]["version"])
        report.removed.append(f"service {sname}")

    # 6. enable the services, start the processors (sinks first, so a source never fills a queue alone)
    for sname, sid in service_ids.items():
        _set_service_state(client, sid, "ENABLED")
    has_incoming = {c["to"] for c in definition["connections"] if c["from"] != c["to"]}
    order = sorted(definition["processors"], key=lambda p: p["name"] not in has_incoming)
    for spec in order:
        pid = processor_ids[spec["name"]]
        holder: dict = {}

        def valid(pid: str = pid) -> str | None:
            holder["entity"] = client.get(f"/processors/{pid}")
            status = holder["entity"]["component"]["validationStatus"]
            return None if status == "VALID" else status

        try:
            _wait(f"processor {spec['name']} to be valid", valid, 60)
        except FlowError:
            errors = holder["entity"]["component"].get("validationErrors")
            raise FlowError(f"processor {spec['name']!r} is not valid: {errors}") from None
        if holder["entity"]["component"]["state"] != "RUNNING":
            _set_processor_state(client, pid, "RUNNING")
            report.started.append(spec["name"])
    log(f"  nifi: flow {name!r}: {report.summary()}")
    return report


def stop_sources(settings: Settings, client: NiFiClient | None = None, definition: dict | None = None) -> list[str]:
    """Stop the processors that have no incoming connection (the Kafka consumer).

    Stopping calls the processor's onStopped after its last session was committed, so the consumer
    commits the offsets of everything NiFi already holds; used before NiFi is shut down.
    """
    definition = definition or load_definition(settings)
    client = client or NiFiClient.for_settings(settings, timeout=10)
    group = find_process_group(client, definition["process_group"])
    if group is None:
        return []
    has_incoming = {c["to"] for c in definition["connections"] if c["from"] != c["to"]}
    sources = {p["name"] for p in definition["processors"] if p["name"] not in has_incoming}
    stopped = []
    for entity in client.get(f"/process-groups/{group['id']}/processors")["processors"]:
        if entity["component"]["name"] in sources and entity["component"]["state"] == "RUNNING":
            _set_processor_state(client, entity["id"], "STOPPED", timeout=45)
            stopped.append(entity["component"]["name"])
    return stopped


def flow_summary(settings: Settings, client: NiFiClient | None = None) -> dict:
    """The provisioned group as {processors: {name: state}, connections: N, groups_with_name: N}."""
    definition = load_definition(settings)
    client = client or NiFiClient.for_settings(settings)
    flow = client.get("/flow/process-groups/root")["processGroupFlow"]["flow"]
    groups = [g for g in flow["processGroups"] if g["component"]["name"] == definition["process_group"]]
    if not groups:
        return {"groups_with_name": 0, "processors": {}, "connections": 0}
    pg = groups[0]["id"]
    processors = client.get(f"/process-groups/{pg}/processors")["processors"]
    connections = client.get(f"/process-groups/{pg}/connections")["connections"]
    return {
        "groups_with_name": len(groups),
        "processors": {p["component"]["name"]: p["component"]["state"] for p in processors},
        "processor_count": len(processors),
        "connections": len(connections),
    }


def main() -> int:
    """`python -m flightdelay.nifi.flow`: apply the flow to the running NiFi."""
    from flightdelay.settings import get_settings

    settings = get_settings()
    client = NiFiClient.for_settings(settings)
    grant_admin_policies(client, settings.nifi_user)
    apply_flow(settings, client=client)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
