"""A Hub-compatible test server on loopback: exactly the calls `huggingface_hub` and `datasets` make.

No package on the registries serves them (``hf-local-hub`` 3.0.0 is a client for a Go
server it does not ship), so this implements, in memory plus a blob folder:

- ``GET /api/whoami-v2`` (token → user and role), ``POST /api/repos/create``,
  ``POST /api/datasets/{repo}/branch/{branch}``;
- ``GET /api/datasets/{repo}[/revision/{rev}]`` (repo info), ``GET .../tree/{rev}[/{path}]``,
  ``POST .../paths-info/{rev}``;
- the commit path of `HfApi.create_commit` without Xet (``HF_HUB_DISABLE_XET=1``):
  ``POST .../preupload/{rev}`` (upload mode and remote oid per file),
  ``POST /datasets/{repo}.git/info/lfs/objects/batch`` (no upload action for a known object),
  ``PUT /lfs-upload/{oid}``, ``POST .../commit/{rev}`` (NDJSON);
- ``GET``/``HEAD /datasets/{repo}/resolve/{rev}/{path}`` with byte ranges (downloads, `datasets`).

It counts what arrives (`Hub.bytes_received`, `Hub.commits`, `Hub.lfs_puts`) and can inject
failures (`Hub.fail`) or hold uploads (`Hub.hold_uploads_after`) so tests can interrupt a push.
Run it with `serve_hub` (a context manager) or ``python -m m5ser.hub.testserver``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import yaml

LFS_SUFFIXES = (".parquet", ".wav", ".flac", ".mp3", ".tar", ".png", ".jpg", ".gz", ".zip", ".arrow")
"""Files the server stores as LFS objects (the Hub's default dataset ``.gitattributes`` covers these)."""
LFS_MIN_BYTES = 10 * 1024 * 1024
"""Any file at least this large is LFS as well (the Hub's rule for big text files)."""
HOLD_SECONDS = 60.0
"""Longest time a held upload waits before the server answers 503 (bounded, so threads end)."""


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob (what the Hub reports as ``oid`` of a regular file).

    >>> git_blob_sha1(b"")
    'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391'
    """
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Entry:
    """One file of a commit: its git blob id, size and (for LFS files) sha256."""

    blob_id: str
    size: int
    sha256: str | None  # None: a regular (non-LFS) file
    key: str  # name of the content in the blob folder


@dataclass
class Repo:
    """A dataset repo: branches → commit id, commits → files."""

    private: bool = False
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, Entry]] = field(default_factory=dict)

    def files(self, rev: str) -> dict[str, Entry] | None:
        sha = self.branches.get(rev, rev)
        return self.commits.get(sha)


@dataclass
class Hub:
    """The server's state, counters and fault injection (shared by the handler threads)."""

    root: Path  # blob folder
    tokens: dict[str, str]  # token -> role ("write" or "read")
    user: str = "tester"
    repos: dict[str, Repo] = field(default_factory=dict)
    lfs_objects: set[str] = field(default_factory=set)  # sha256 of uploaded LFS objects
    bytes_received: int = 0  # LFS bodies + inline file contents of commits
    commits: int = 0  # commits created by POST .../commit
    lfs_puts: list[str] = field(default_factory=list)  # sha256 of every LFS upload, in order
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    failures: list[list[Any]] = field(default_factory=list)  # [method, regex, status, times left]
    hold_uploads_after: int | None = None  # LFS uploads after this many are held (interrupt tests)
    held: int = 0  # uploads held so far
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def fail(self, method: str, pattern: str, status: int, times: int = 1) -> None:
        """Answer the next `times` requests matching `method` and path regex `pattern` with `status`."""
        with self.lock:
            self.failures.append([method, re.compile(pattern), status, times])

    def take_failure(self, method: str, path: str) -> int | None:
        with self.lock:
            for rule in self.failures:
                if rule[0] == method and rule[1].search(path) and rule[3] > 0:
                    rule[3] -= 1
                    return int(rule[2])
        return None

    def store(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        path = self.root / key
        if not path.exists():
            path.write_bytes(data)
        return key

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()


class _Reply(Exception):
    """An error answer; `code` is the ``X-Error-Code`` huggingface_hub maps to its exceptions."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _commit_id(parent: str, files: dict[str, Entry]) -> str:
    blob = json.dumps([parent, sorted((p, e.blob_id) for p, e in files.items())]).encode()
    return hashlib.sha1(blob).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _is_lfs(path: str, size: int) -> bool:
    return path.lower().endswith(LFS_SUFFIXES) or size >= LFS_MIN_BYTES


REPO = r"(?P<repo>[^/]+/[^/]+)"


class _Handler(BaseHTTPRequestHandler):
    hub: Hub  # set by `make_server`
    _consumed: bool = False  # whether this request's body was read
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests read `Hub.requests` instead."""

    # -- plumbing ---------------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        with self.hub.lock:
            self.hub.requests.append((self.command, urlparse(self.path).path, status))

    def _json(self, obj: Any, status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def _body(self) -> bytes:
        self._consumed = True
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _role(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ").strip()
        return self.hub.tokens.get(token)

    def _need_write(self) -> None:
        role = self._role()
        if role is None:
            raise _Reply(401, "Invalid credentials in Authorization header")
        if role != "write":
            raise _Reply(403, "You don't have the rights to write to this repository")

    def _repo(self, repo_id: str) -> Repo:
        repo = self.hub.repos.get(repo_id)
        if repo is None or (repo.private and self._role() is None):
            raise _Reply(404, f"Repository Not Found for url: {repo_id}", "RepoNotFound")
        return repo

    def _files(self, repo_id: str, rev: str) -> tuple[Repo, str, dict[str, Entry]]:
        repo = self._repo(repo_id)
        rev = unquote(rev)
        files = repo.files(rev)
        if files is None:
            raise _Reply(404, f"Revision Not Found: {rev}", "RevisionNotFound")
        return repo, repo.branches.get(rev, rev), files

    def _dispatch(self) -> None:
        url = urlparse(self.path)
        path = url.path
        status = self.hub.take_failure(self.command, path)
        if status is not None:
            raise _Reply(status, f"injected {status}")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        routes = [
            ("GET", r"^/api/whoami-v2$", self._whoami),
            ("POST", r"^/api/repos/create$", self._create),
            ("POST", r"^/api/validate-yaml$", self._validate_yaml),
            ("POST", rf"^/api/datasets/{REPO}/branch/(?P<branch>.+)$", self._branch),
            ("POST", rf"^/api/datasets/{REPO}/preupload/(?P<rev>[^/]+)$", self._preupload),
            ("POST", rf"^/api/datasets/{REPO}/commit/(?P<rev>[^/]+)$", self._commit),
            ("POST", rf"^/api/datasets/{REPO}/paths-info/(?P<rev>[^/]+)$", self._paths_info),
            ("GET", rf"^/api/datasets/{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<sub>.*))?$", self._tree),
            ("GET", rf"^/api/datasets/{REPO}(?:/revision/(?P<rev>[^/]+))?$", self._info),
            ("POST", rf"^/datasets/{REPO}\.git/info/lfs/objects/batch$", self._lfs_batch),
            ("PUT", r"^/lfs-upload/(?P<oid>[0-9a-f]{64})$", self._lfs_put),
            ("GET", rf"^/datasets/{REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)$", self._resolve),
            ("HEAD", rf"^/datasets/{REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)$", self._resolve),
        ]
        for method, pattern, fn in routes:
            m = re.match(pattern, path)
            if method == self.command and m:
                fn(query=query, **{k: v for k, v in m.groupdict().items()})
                return
        raise _Reply(404, f"no route {self.command} {path}")

    def _handle(self) -> None:
        self._consumed = False
        try:
            self._dispatch()
        except _Reply as r:
            if not self._consumed:
                self._body()  # an unread body would be parsed as the next request on this connection
            headers = {"X-Error-Message": str(r), "Content-Type": "application/json"}
            if r.code:
                headers["X-Error-Code"] = r.code
            self._send(r.status, json.dumps({"error": str(r)}).encode(), headers)

    do_GET = do_POST = do_PUT = do_HEAD = _handle

    # -- endpoints --------------------------------------------------------------------------
    def _whoami(self, query: dict[str, str]) -> None:
        role = self._role()
        if role is None:
            raise _Reply(401, "Invalid credentials in Authorization header")
        token = {"displayName": "test-token", "role": role}
        self._json({"type": "user", "name": self.hub.user, "orgs": [], "auth": {"accessToken": token}})

    def _create(self, query: dict[str, str]) -> None:
        self._need_write()
        payload = json.loads(self._body() or b"{}")
        repo_id = f"{payload.get('organization') or self.hub.user}/{payload['name']}"
        if payload.get("type") != "dataset":
            raise _Reply(400, "this test server holds dataset repos only")
        endpoint = f"http://{self.headers.get('Host')}"
        with self.hub.lock:
            if repo_id in self.hub.repos:  # the Hub names the existing repo's URL in its 409
                url = f"{endpoint}/datasets/{repo_id}"
                self._json({"error": "You already created this dataset repo", "url": url}, 409)
                return
            repo = Repo(private=payload.get("visibility") == "private" or bool(payload.get("private")))
            sha = _commit_id("", {})
            repo.commits[sha] = {}
            repo.branches["main"] = sha
            self.hub.repos[repo_id] = repo
        self._json({"url": f"{endpoint}/datasets/{repo_id}", "name": repo_id})

    def _validate_yaml(self, query: dict[str, str]) -> None:
        """The card check a README commit goes through: YAML front matter, ``configs`` entries."""
        content = json.loads(self._body()).get("content", "")
        errors = []
        if content.startswith("---\n") and "\n---\n" in content[4:]:
            try:
                meta = yaml.safe_load(content[4 : content.index("\n---\n", 4)]) or {}
            except yaml.YAMLError as e:
                meta, errors = {}, [f"invalid YAML: {e}"]
            for i, c in enumerate(meta.get("configs") or [] if isinstance(meta, dict) else []):
                if not isinstance(c, dict) or not c.get("config_name") or not c.get("data_files"):
                    errors.append(f"configs[{i}]: needs config_name and data_files")
        if errors:
            self._json({"errors": [{"message": m} for m in errors], "warnings": []}, 400)
            return
        self._json({"errors": [], "warnings": []})

    def _branch(self, query: dict[str, str], repo: str, branch: str) -> None:
        self._need_write()
        r = self._repo(repo)
        branch = unquote(branch)
        payload = json.loads(self._body() or b"{}")
        with self.hub.lock:
            if branch in r.branches:
                raise _Reply(409, f"Reference already exists: {branch}")
            r.branches[branch] = r.branches.get(payload.get("startingPoint") or "main", r.branches["main"])
        self._json({})

    def _info(self, query: dict[str, str], repo: str, rev: str | None) -> None:
        r, sha, files = self._files(repo, rev or "main")
        siblings = [{"rfilename": p} for p in sorted(files)]
        self._json({"id": repo, "sha": sha, "private": r.private, "siblings": siblings, "tags": [], "disabled": False})

    def _entry_json(self, path: str, e: Entry) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "file", "oid": e.blob_id, "size": e.size, "path": path}
        if e.sha256:
            out["lfs"] = {"oid": e.sha256, "size": e.size, "pointerSize": len(_lfs_pointer(e.sha256, e.size))}
        return out

    def _listing(self, files: dict[str, Entry], sub: str, recursive: bool) -> list[dict[str, Any]]:
        prefix = f"{sub.strip('/')}/" if sub.strip("/") else ""
        out: list[dict[str, Any]] = []
        dirs: set[str] = set()
        for path in sorted(files):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :].split("/")
            for depth in range(1, len(rest)):
                if depth > 1 and not recursive:
                    break
                dirs.add(prefix + "/".join(rest[:depth]))
            if recursive or len(rest) == 1:
                out.append(self._entry_json(path, files[path]))
        out += [{"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d} for d in dirs]
        return sorted(out, key=lambda x: x["path"])

    def _tree(self, query: dict[str, str], repo: str, rev: str, sub: str | None) -> None:
        _, _, files = self._files(repo, rev)
        sub = unquote(sub or "")
        if sub and not any(p == sub or p.startswith(sub.rstrip("/") + "/") for p in files):
            raise _Reply(404, f"Entry not found: {sub}", "EntryNotFound")
        self._json(self._listing(files, sub, query.get("recursive", "").lower() in ("1", "true")))

    def _paths_info(self, query: dict[str, str], repo: str, rev: str) -> None:
        _, _, files = self._files(repo, rev)
        raw = self._body()
        ctype = self.headers.get("Content-Type") or ""
        paths = json.loads(raw).get("paths", []) if "json" in ctype else parse_qs(raw.decode()).get("paths", [])
        out = []
        for p in paths:
            p = p.strip("/")
            if p in files:
                out.append(self._entry_json(p, files[p]))
            elif any(f.startswith(p + "/") for f in files):
                out.append({"type": "directory", "oid": hashlib.sha1(p.encode()).hexdigest(), "size": 0, "path": p})
        self._json(out)

    def _preupload(self, query: dict[str, str], repo: str, rev: str) -> None:
        self._need_write()
        _, _, files = self._files(repo, rev)
        payload = json.loads(self._body())
        out = []
        for f in payload["files"]:
            mode = "lfs" if _is_lfs(f["path"], int(f["size"])) else "regular"
            item: dict[str, Any] = {"path": f["path"], "uploadMode": mode, "shouldIgnore": False}
            old = files.get(f["path"])
            if old is not None:
                item["oid"] = old.sha256 if mode == "lfs" else old.blob_id
            out.append(item)
        self._json({"files": out})

    def _lfs_batch(self, query: dict[str, str], repo: str) -> None:
        self._need_write()
        self._repo(repo)
        payload = json.loads(self._body())
        endpoint = f"http://{self.headers.get('Host')}"
        objects = []
        for obj in payload["objects"]:
            item: dict[str, Any] = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.hub.lfs_objects:
                item["actions"] = {"upload": {"href": f"{endpoint}/lfs-upload/{obj['oid']}", "header": {}}}
            objects.append(item)
        self._json({"transfer": "basic", "objects": objects})

    def _lfs_put(self, query: dict[str, str], oid: str) -> None:
        hub = self.hub
        with hub.lock:
            n_done = len(hub.lfs_puts)
        if hub.hold_uploads_after is not None and n_done >= hub.hold_uploads_after:
            with hub.lock:
                hub.held += 1
            hub.release.wait(HOLD_SECONDS)  # the client is killed meanwhile
            raise _Reply(503, "upload held by the test and released")
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            raise _Reply(400, f"sha256 mismatch for object {oid}")
        with hub.lock:
            hub.store(data)
            hub.lfs_objects.add(oid)
            hub.lfs_puts.append(oid)
            hub.bytes_received += len(data)
        self._send(200)

    def _commit(self, query: dict[str, str], repo: str, rev: str) -> None:
        self._need_write()
        r = self._repo(repo)
        rev = unquote(rev)
        lines = [json.loads(x) for x in self._body().splitlines() if x.strip()]
        with self.hub.lock:
            if rev not in r.branches:
                raise _Reply(404, f"Revision Not Found: {rev}", "RevisionNotFound")
            parent = r.branches[rev]
            files = dict(r.commits[parent])
            for line in lines:
                key, value = line["key"], line["value"]
                if key == "file":
                    data = base64.b64decode(value["content"])
                    self.hub.bytes_received += len(data)
                    files[value["path"]] = Entry(git_blob_sha1(data), len(data), None, self.hub.store(data))
                elif key == "lfsFile":
                    oid = value["oid"]
                    if oid not in self.hub.lfs_objects:
                        raise _Reply(422, f"LFS object {oid} of {value['path']} was never uploaded")
                    pointer = _lfs_pointer(oid, int(value["size"]))
                    files[value["path"]] = Entry(git_blob_sha1(pointer), int(value["size"]), oid, oid)
                elif key in ("deletedFile", "deletedFolder"):
                    p = value["path"].rstrip("/")
                    files = {k: v for k, v in files.items() if k != p and not k.startswith(p + "/")}
                elif key != "header":
                    raise _Reply(400, f"unsupported commit operation {key}")
            sha = _commit_id(parent, files)
            r.commits[sha] = files
            r.branches[rev] = sha
            self.hub.commits += 1
        endpoint = f"http://{self.headers.get('Host')}"
        self._json({"commitUrl": f"{endpoint}/datasets/{repo}/commit/{sha}", "commitOid": sha, "success": True})

    def _resolve(self, query: dict[str, str], repo: str, rev: str, file: str) -> None:
        _, sha, files = self._files(repo, rev)
        file = unquote(file)
        entry = files.get(file)
        if entry is None:
            self._send(404, b"Entry not found", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha})
            return
        data = self.hub.read(entry.key)
        headers = {
            "X-Repo-Commit": sha,
            "ETag": f'"{entry.sha256 or entry.blob_id}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if entry.sha256:
            headers["X-Linked-Etag"] = f'"{entry.sha256}"'
            headers["X-Linked-Size"] = str(entry.size)
        rng = re.match(r"bytes=(\d*)-(\d*)$", self.headers.get("Range") or "")
        if rng and (rng.group(1) or rng.group(2)):
            if rng.group(1):
                start = int(rng.group(1))
                end = int(rng.group(2)) if rng.group(2) else len(data) - 1
            else:
                start, end = max(0, len(data) - int(rng.group(2))), len(data) - 1
            end = min(end, len(data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            self._send(206, data[start : end + 1], headers)
            return
        self._send(200, data, headers)


def make_server(hub: Hub, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for `hub` on `host`:`port` (0: a free port); call ``serve_forever``."""
    handler = type("HubHandler", (_Handler,), {"hub": hub})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


@contextmanager
def serve_hub(root: Path, tokens: dict[str, str]) -> Iterator[tuple[str, Hub]]:
    """Run a test Hub in a thread; yields its endpoint URL and state, stops it on exit."""
    root.mkdir(parents=True, exist_ok=True)
    hub = Hub(root=root, tokens=dict(tokens))
    server = make_server(hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hub
    finally:
        hub.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> None:
    """``python -m m5ser.hub.testserver --root DIR --token-file F``: serve until interrupted."""
    p = argparse.ArgumentParser(prog="python -m m5ser.hub.testserver", description=__doc__)
    p.add_argument("--root", type=Path, required=True, help="blob folder")
    p.add_argument("--token-file", type=Path, required=True, help="file holding the one write token")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    hub = Hub(root=args.root, tokens={args.token_file.read_text().strip(): "write"})
    server = make_server(hub, port=args.port)
    print(f"HF_ENDPOINT=http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
