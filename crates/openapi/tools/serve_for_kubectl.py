#!/usr/bin/env python3
"""Serve dumped OpenAPI documents plus just enough discovery for
`kubectl explain` and `kubectl create --validate=strict` to run against
them. Binds an ephemeral port on 127.0.0.1 and prints it. Manual check only.

    cargo run -p berth-openapi --example dump_openapi /tmp/oa
    python3 tools/serve_for_kubectl.py /tmp/oa
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

DIR = sys.argv[1]
RESOURCES = {
    "api/v1": [("pods", "Pod", True), ("configmaps", "ConfigMap", True), ("services", "Service", True)],
    "apis/apps/v1": [("deployments", "Deployment", True)],
}


class Handler(BaseHTTPRequestHandler):
    def send(self, code, body):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0].strip("/")
        sys.stderr.write("GET %s\n" % self.path)
        if path == "api":
            return self.send(200, {"kind": "APIVersions", "versions": ["v1"]})
        if path == "apis":
            return self.send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]})
        if path in RESOURCES:
            gv = path.split("/", 1)[1] if path.startswith("apis/") else "v1"
            return self.send(200, {"kind": "APIResourceList", "groupVersion": gv, "resources": [
                {"name": n, "singularName": "", "namespaced": ns, "kind": k,
                 "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                for n, k, ns in RESOURCES[path]]})
        if path == "openapi/v3":
            return self.send(200, open(os.path.join(DIR, "index.json"), "rb").read())
        if path.startswith("openapi/v3/"):
            f = os.path.join(DIR, path[len("openapi/v3/"):].replace("/", "__") + ".json")
            if os.path.exists(f):
                return self.send(200, open(f, "rb").read())
        if path == "version":
            return self.send(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0"})
        self.send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        sys.stderr.write("POST %s %s\n" % (self.path, self.headers.get("Content-Type")))
        self.send(201, body)


server = HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
