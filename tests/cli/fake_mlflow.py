#!/usr/bin/env python3
"""A stand-in MLflow tracking server for the export tests: the REST calls LossLab makes
(/api/2.0/mlflow/...), with MLflow's rules where a client can break them: log-batch limits
(1000 metrics, 100 params, 100 tags, 1000 in all), params that cannot change, key names,
value lengths (MLflow 1.x's guaranteed 500 for params, 5000 for tags), run statuses, deleted
runs. It answers runs/search one run per page, so a client must follow next_page_token.

Usage: fake_mlflow.py PORT_FILE STATE_FILE [--token TOKEN] [--fault ENDPOINT:N:KIND]...
Listens on 127.0.0.1 at a free port, writes the port to PORT_FILE, and after every request
writes what it holds to STATE_FILE (JSON). Stops on SIGTERM.

--fault makes the Nth call (from 1; * for every call) of ENDPOINT ("runs/log-batch") go wrong,
before the server acts on it: KIND an HTTP status (500, 503: answered with MLflow's error
JSON), html (200 with a web page, as a proxy's login page), garbage (200 with JSON cut
short), slow:SECONDS (acted on and answered after that long: a client that gave up sooner
finds it done later), busy:STATUS:SECONDS (HTTP STATUS, 429 or 503, with Retry-After: SECONDS),
or close (the connection closed without an answer). Or after the server
acted on it: applied:STATUS or applied:close (as a gateway whose server answered too late),
or twice (acted on twice and the second answer sent, as a proxy that sent it again: a
runs/create makes two runs with the same tags).
"""
import json
import os
import math
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

KEY = re.compile(r"^[/\w.\- ]{1,250}$")
STATUSES = {"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"}
PREFIX = "/api/2.0/mlflow/"

state = {"experiments": {}, "runs": {}, "calls": {}}
lock = threading.Lock()


class Refusal(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def refuse(message, status=400, code="INVALID_PARAMETER_VALUE"):
    raise Refusal(status, code, message)


def number(value, what):
    if isinstance(value, bool):
        refuse(f"{what}: expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    refuse(f"{what}: expected a number, got {value!r}")


def integer(value, what):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            return int(value)
        refuse(f"{what}: expected an integer, got {value!r}")
    return value


def active_run(body):
    run = state["runs"].get(body.get("run_id", ""))
    if run is None:
        refuse(f"Run '{body.get('run_id')}' not found", 404, "RESOURCE_DOES_NOT_EXIST")
    if run["lifecycle_stage"] != "active":
        refuse(f"The run {body['run_id']} must be in the 'active' state. Current state is deleted.")
    return run


def run_json(run_id, run):
    info = {"run_id": run_id, "run_uuid": run_id, "experiment_id": run["experiment_id"], "run_name": run["run_name"],
            "status": run["status"], "start_time": run["start_time"], "lifecycle_stage": run["lifecycle_stage"]}
    if run.get("end_time") is not None:
        info["end_time"] = run["end_time"]
    latest = {}
    for key, value, timestamp, step in run["metrics"]:
        if key not in latest or (step, timestamp) >= (latest[key]["step"], latest[key]["timestamp"]):
            latest[key] = {"key": key, "value": "NaN" if math.isnan(value) else value, "timestamp": timestamp, "step": step}
    data = {"metrics": list(latest.values()),
            "params": [{"key": k, "value": v} for k, v in run["params"].items()],
            "tags": [{"key": k, "value": v} for k, v in run["tags"].items()]}
    return {"info": info, "data": data}


def checked_entry(entry, kind, longest):
    """(key, value) of a param or tag, refused where MLflow 1.x would refuse it."""
    key, value = entry.get("key", ""), entry.get("value", "")
    if not KEY.match(key):
        refuse(f"Invalid {kind} name: '{key}'")
    if len(value) > longest:
        refuse(f"{kind.capitalize()} '{key}' has a value of {len(value)} characters, more than {longest}")
    return key, value


def set_tags(run, tags):
    for tag in tags:
        key, value = checked_entry(tag, "tag", 5000)
        run["tags"][key] = value


def handle(method, endpoint, query, body):
    if method == "GET" and endpoint == "experiments/get-by-name":
        name = query.get("experiment_name", [""])[0]
        for eid, e in state["experiments"].items():
            if e["name"] == name:
                return {"experiment": {"experiment_id": eid, "name": name, "lifecycle_stage": e["lifecycle_stage"]}}
        refuse(f"Could not find experiment with name '{name}'", 404, "RESOURCE_DOES_NOT_EXIST")
    if method != "POST":
        refuse(f"{method} {endpoint} is not an endpoint", 404, "ENDPOINT_NOT_FOUND")
    if endpoint == "experiments/create":
        name = body.get("name", "")
        if not name:
            refuse("Missing value for required parameter 'name'")
        if any(e["name"] == name for e in state["experiments"].values()):
            refuse(f"Experiment '{name}' already exists.", 400, "RESOURCE_ALREADY_EXISTS")
        eid = str(len(state["experiments"]) + 1)
        state["experiments"][eid] = {"name": name, "lifecycle_stage": "active"}
        return {"experiment_id": eid}
    if endpoint == "runs/create":
        eid = body.get("experiment_id", "")
        if eid not in state["experiments"]:
            refuse(f"No Experiment with id={eid} exists", 404, "RESOURCE_DOES_NOT_EXIST")
        run_id = uuid.uuid4().hex
        run = {"experiment_id": eid, "run_name": body.get("run_name", ""), "status": "RUNNING",
               "start_time": integer(body.get("start_time", 0), "start_time"), "end_time": None,
               "lifecycle_stage": "active", "params": {}, "tags": {}, "metrics": []}
        set_tags(run, body.get("tags", []))
        state["runs"][run_id] = run
        return {"run": run_json(run_id, run)}
    if endpoint == "runs/search":
        ids = body.get("experiment_ids", [])
        view = body.get("run_view_type", "ACTIVE_ONLY")
        found = sorted(rid for rid, r in state["runs"].items() if r["experiment_id"] in ids and
                       (view == "ALL" or (r["lifecycle_stage"] == "active") == (view == "ACTIVE_ONLY")))
        start = int(body.get("page_token") or 0)
        answer = {}
        if found[start:start + 1]:
            answer["runs"] = [run_json(rid, state["runs"][rid]) for rid in found[start:start + 1]]
        if start + 1 < len(found):
            answer["next_page_token"] = str(start + 1)
        return answer
    if endpoint == "runs/log-batch":
        run = active_run(body)
        metrics, params, tags = body.get("metrics", []), body.get("params", []), body.get("tags", [])
        if len(metrics) > 1000 or len(params) > 100 or len(tags) > 100 or len(metrics) + len(params) + len(tags) > 1000:
            refuse(f"A batch logging request can contain at most 1000 metrics, 100 params and 100 tags, 1000 in all. "
                   f"Got {len(metrics)} metrics, {len(params)} params, {len(tags)} tags.")
        checked = []
        for m in metrics:
            key = m.get("key", "")
            if not KEY.match(key):
                refuse(f"Invalid metric name: '{key}'")
            checked.append([key, number(m.get("value"), key), integer(m.get("timestamp"), key + " timestamp"),
                            integer(m.get("step", 0), key + " step")])
        for p in params:
            key, value = checked_entry(p, "param", 500)
            if key in run["params"] and run["params"][key] != value:
                refuse(f"Changing param values is not allowed. Param with key='{key}' was already logged with "
                       f"value='{run['params'][key]}' for run ID='{body['run_id']}'. Attempted logging new value '{value}'.")
        for p in params:
            run["params"][p["key"]] = p["value"]
        set_tags(run, tags)
        run["metrics"].extend(checked)
        return {}
    if endpoint == "runs/update":
        run = active_run(body)
        status = body.get("status", run["status"])
        if status not in STATUSES:
            refuse(f"Invalid run status {status!r}")
        run["status"] = status
        if "end_time" in body:
            run["end_time"] = integer(body["end_time"], "end_time")
        return {"run_info": run_json(body["run_id"], run)["info"]}
    if endpoint == "runs/delete":
        active_run(body)["lifecycle_stage"] = "deleted"
        return {}
    refuse(f"{method} {endpoint} is not an endpoint", 404, "ENDPOINT_NOT_FOUND")


def save(state_file):
    """What the server holds, written whole (a test may read it while a request is handled)."""
    with open(state_file + ".tmp", "w") as out:
        json.dump(state, out)
    os.replace(state_file + ".tmp", state_file)


class Handler(BaseHTTPRequestHandler):
    token = None
    state_file = None
    faults = {}  # endpoint -> {call number or "*": kind}
    seen = {}  # endpoint -> calls so far, faulty ones included

    def fault(self, endpoint):
        """The fault to act out for this call of `endpoint`, or None."""
        with lock:
            Handler.seen[endpoint] = Handler.seen.get(endpoint, 0) + 1
            wanted = Handler.faults.get(endpoint, {})
            return wanted.get(str(Handler.seen[endpoint]), wanted.get("*"))

    def reply(self, status, data, content_type="application/json", headers=()):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # a client that stopped waiting (slow:)
            self.close_connection = True

    def log_message(self, *args):
        pass

    def answer(self, method):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        kind = self.fault(url.path[len(PREFIX):]) if url.path.startswith(PREFIX) else None
        if kind == "close":
            self.close_connection = True
            return
        if kind == "html":
            return self.reply(200, b"<html><body>Sign in to continue</body></html>", "text/html")
        if kind == "garbage":
            return self.reply(200, b'{"runs": [{"info": {"run_id": "12')
        if kind and kind.startswith("busy:"):
            status, seconds = kind[5:].split(":")
            return self.reply(int(status), json.dumps({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}).encode(),
                              headers=[("Retry-After", seconds)])
        if kind and kind.isdigit():
            return self.reply(int(kind), json.dumps({"error_code": "INTERNAL_ERROR", "message": "fault " + kind}).encode())
        if kind and kind.startswith("slow:"):
            time.sleep(float(kind[5:]))
        status, payload = self.act(method, url, raw, 2 if kind == "twice" else 1)
        if kind and kind.startswith("applied:"):
            if kind == "applied:close":
                self.close_connection = True
                return
            status, payload = int(kind[8:]), {"error_code": "INTERNAL_ERROR", "message": "fault " + kind}
        data = json.dumps(payload, indent=2).encode() if payload is not None else b"<html><h1>Not Found</h1></html>"
        # MLflow's answers are indented JSON, as here
        self.reply(status, data, "application/json" if payload is not None else "text/html")

    def act(self, method, url, raw, times):
        """(HTTP status, JSON answer or None for a web server's page) of acting on the request
        `times` times; the last answer."""
        status, payload = 200, {}
        for _ in range(times):
            status, payload = self.act_once(method, url, raw)
        return status, payload

    def act_once(self, method, url, raw):
        status, payload = 200, {}
        try:
            if self.token and self.headers.get("Authorization") != "Bearer " + self.token:
                refuse("Unauthorized: the request carries no valid token", 401, "UNAUTHENTICATED")
            if not url.path.startswith(PREFIX):
                raise Refusal(404, None, "")
            if method == "POST" and self.headers.get("Content-Type") != "application/json":
                refuse("expected Content-Type: application/json")
            if len(raw) > 1024 * 1024:
                refuse(f"the request has {len(raw)} bytes, more than 1 MB")
            body = json.loads(raw.decode("utf-8")) if raw else {}
            endpoint = url.path[len(PREFIX):]
            with lock:
                state["calls"][endpoint] = state["calls"].get(endpoint, 0) + 1
                payload = handle(method, endpoint, parse_qs(url.query), body)
                save(self.state_file)
        except Refusal as r:  # no code: a path outside the API, answered as a web server would
            status, payload = r.status, ({"error_code": r.code, "message": r.message} if r.code else None)
        except (ValueError, UnicodeDecodeError) as e:
            status, payload = 400, {"error_code": "MALFORMED_REQUEST", "message": f"not JSON: {e}"}
        return status, payload

    def do_GET(self):
        self.answer("GET")

    def do_POST(self):
        self.answer("POST")


def main():
    port_file, state_file, options = sys.argv[1], sys.argv[2], sys.argv[3:]
    for option, value in zip(options[::2], options[1::2]):
        if option == "--token":
            Handler.token = value
        elif option == "--fault":
            endpoint, call, kind = value.split(":", 2)  # the kind may hold a colon: slow:3
            Handler.faults.setdefault(endpoint, {})[call] = kind
        else:
            sys.exit(__doc__)
    Handler.state_file = state_file
    save(state_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    with open(port_file + ".tmp", "w") as out:
        out.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
