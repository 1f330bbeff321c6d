"""Push a published folder to a Hugging Face dataset repo, one language at a time, resumably.

The plan compares every local file with the remote tree by content hash (sha256 for LFS
files, the git blob id for regular ones), so an unchanged file is never sent again and a
re-push of an unchanged folder makes no commit. Files of the pushed languages go up in
bounded commits (`PushOptions.max_commit_files`, `max_commit_bytes`: the Hub recommends
fewer than 100 files per commit), shards first, then manifests, removed lists and per-language
reports, then the card. A killed push resumes: finished commits are on the remote (their
files compare unchanged) and LFS objects uploaded but not yet committed are known to the
Hub, which asks for no second upload (`huggingface_hub`'s LFS batch/Xet protocols).

The card is the recipe's card over the pushed languages, merged with the **remote** card's
configs (downloaded first), so a push never drops another language's config; files of
languages not pushed are never touched. The shared reports (``reports/quality.md``,
``stats.json``, plots, ``recipe.yaml``) describe every language they count, so they are
pushed only when the push covers every language of the repo.

The token comes from ``--token-file``, ``HF_TOKEN`` or ``hf auth login`` (`resolve_token`)
and is only ever handed to `huggingface_hub`; nothing here prints, logs or stores it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m5ser.config import Recipe
from m5ser.hub.card import read_front_matter
from m5ser.hub.publish import publish
from m5ser.manifest import write_text_atomic
from m5ser.registry import require

log = logging.getLogger(__name__)

REPO_TYPE = "dataset"
MAX_FILES_PER_FOLDER = 10_000
"""Hub recommendation: fewer than 10k entries per folder."""
MAX_FILE_BYTES = 50 * 1000**3
"""Hub hard limit per file (20 GB recommended)."""
MAX_ROW_GROUP_BYTES = 100 * 1024**2
"""Largest uncompressed Parquet row group we push: well under the dataset viewer's ~286 MiB ceiling."""
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses worth retrying (rate limits on commits, transient server errors)."""
SHARED_REPORTS = ("reports/quality.md", "reports/stats.json", "reports/recipe.yaml")
"""Reports over every language (plus ``reports/*.png``): pushed only by a push of every language."""
REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class PushError(RuntimeError):
    """A push that cannot start or go on (no token, no write access, bad repo id, Hub limits)."""


@dataclass(frozen=True)
class PushOptions:
    """What to push where (the token is never part of it)."""

    repo_id: str  # USER/NAME of the dataset repo
    languages: tuple[str, ...] = ()  # languages to push; empty: every local language
    private: bool = False  # create the repo private (an existing repo keeps its visibility)
    revision: str = "main"  # branch to push to (created from main when missing)
    max_commit_files: int = 50  # files per commit (Hub: fewer than 100)
    max_commit_bytes: int = 2 * 1000**3  # bytes per commit, so one failed commit re-sends little
    retries: int = 5  # attempts per Hub call on 429/5xx, with exponential back-off
    backoff_s: float = 2.0  # first back-off; doubles per attempt (a Retry-After header wins)


@dataclass(frozen=True)
class FileItem:
    """One file of the plan."""

    path: str  # path in the repo
    local: Path  # file on disk
    size: int
    sha256: str
    blob_id: str  # git blob sha1
    action: str  # add | update | unchanged
    group: str  # the language it belongs to, or "card"


@dataclass
class PushPlan:
    """Files to push, compared with the remote, grouped into commits."""

    repo_id: str
    revision: str
    languages: list[str]
    files: list[FileItem]
    remote_exists: bool
    notes: list[str] = field(default_factory=list)

    def pending(self) -> list[FileItem]:
        return [f for f in self.files if f.action != "unchanged"]

    def summary(self) -> dict[str, Any]:
        """Counts and bytes per action (what ``--dry-run`` prints)."""
        n: Counter[str] = Counter()
        size: Counter[str] = Counter()
        for f in self.files:
            n[f.action] += 1
            size[f.action] += f.size
        return {a: {"files": n[a], "bytes": size[a]} for a in ("add", "update", "unchanged")}


@dataclass
class PushResult:
    """What a push did."""

    plan: PushPlan
    commits: list[str] = field(default_factory=list)  # commit ids, in order
    bytes_planned: int = 0  # sizes of the added and updated files
    seconds: float = 0.0
    url: str = ""


# -- token ----------------------------------------------------------------------------------
def resolve_token(token_file: Path | None = None) -> str | None:
    """The token from `token_file`, else ``HF_TOKEN`` / ``hf auth login`` (None if none is set)."""
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise PushError(f"--token-file {token_file}: cannot read it ({e.strerror})") from e
        if not token:
            raise PushError(f"--token-file {token_file}: the file is empty")
        return token
    hub = require("huggingface_hub", "hub")
    return hub.get_token()


def check_write_access(api: Any, token: str | None) -> str:
    """The user name of `token`; a `PushError` when it is missing, rejected or read-only."""
    if not token:
        raise PushError(
            "no Hugging Face token: set HF_TOKEN, run `hf auth login`, or pass --token-file FILE "
            "(a token with write access)"
        )
    errors = require("huggingface_hub.errors", "hub")
    try:
        info = api.whoami(token=token)
    except errors.HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else None
        raise PushError(f"the Hub at {api.endpoint} rejected the token (HTTP {status})") from None
    role = ((info.get("auth") or {}).get("accessToken") or {}).get("role")
    if role == "read":
        raise PushError(f"the token of {info.get('name')} is read-only: a push needs a token with write access")
    return str(info.get("name", ""))


# -- hashing --------------------------------------------------------------------------------
def file_hashes(path: Path, cache: dict[str, Any] | None = None) -> tuple[str, str]:
    """(sha256, git blob sha1) of a file, read once; `cache` is keyed by path, size and mtime."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    if cache is not None and key in cache:
        return tuple(cache[key])  # type: ignore[return-value]
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(b"blob %d\0" % st.st_size)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            sha256.update(chunk)
            sha1.update(chunk)
    out = (sha256.hexdigest(), sha1.hexdigest())
    if cache is not None:
        cache[key] = list(out)
    return out


def _load_cache(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        log.warning("%s: unreadable hash cache, hashing again", path)
        return {}
    return data if isinstance(data, dict) else {}


# -- local files ----------------------------------------------------------------------------
def local_languages(out_dir: Path) -> list[str]:
    """Languages with a published manifest in `out_dir`."""
    return sorted(p.stem for p in (out_dir / "manifests").glob("*.jsonl"))


def language_files(out_dir: Path, lang: str) -> list[tuple[str, Path]]:
    """(repo path, local path) of one language: shards and WAV sidecars first, then metadata."""
    out: list[tuple[str, Path]] = []
    for folder in (out_dir / "data" / lang, out_dir / "wav" / lang, out_dir / "removed" / lang):
        if folder.is_dir():
            out += [(p.relative_to(out_dir).as_posix(), p) for p in sorted(folder.rglob("*")) if p.is_file()]
    sidecars = sorted((out_dir / "manifests").glob(f"{lang}.*"))  # <lang>.jsonl, <lang>.shards.json
    for path in [*sidecars, out_dir / "reports" / "languages" / f"{lang}.json"]:
        if path.is_file():
            out.append((path.relative_to(out_dir).as_posix(), path))
    return out


def check_limits(files: Sequence[tuple[str, Path]]) -> None:
    """Raise `PushError` for files the Hub (or its dataset viewer) would refuse or choke on."""
    folders: Counter[str] = Counter(rel.rsplit("/", 1)[0] if "/" in rel else "" for rel, _ in files)
    for folder, n in folders.items():
        if n > MAX_FILES_PER_FOLDER:
            raise PushError(f"{folder}/: {n} files; the Hub takes fewer than {MAX_FILES_PER_FOLDER} per folder")
    for rel, path in files:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PushError(f"{path}: {size} bytes; the Hub takes at most {MAX_FILE_BYTES} per file")
        if rel.endswith(".parquet"):
            pq = require("pyarrow.parquet", "hub")
            meta = pq.ParquetFile(path).metadata
            for i in range(meta.num_row_groups):
                n = meta.row_group(i).total_byte_size
                if n > MAX_ROW_GROUP_BYTES:
                    raise PushError(
                        f"{path}: row group {i} holds {n} bytes uncompressed; the dataset viewer needs "
                        f"row groups well under 286 MiB (we push at most {MAX_ROW_GROUP_BYTES})"
                    )


# -- remote ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RemoteFile:
    blob_id: str
    sha256: str | None


def remote_tree(api: Any, repo_id: str, revision: str, token: str | bool | None) -> dict[str, RemoteFile] | None:
    """Every file of the remote revision (None when the repo or the revision does not exist)."""
    errors = require("huggingface_hub.errors", "hub")
    try:
        entries = list(api.list_repo_tree(repo_id, revision=revision, repo_type=REPO_TYPE, recursive=True, token=token))
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError):
        return None
    out = {}
    for e in entries:
        if getattr(e, "blob_id", None) is not None and hasattr(e, "lfs"):
            out[e.path] = RemoteFile(e.blob_id, e.lfs.sha256 if e.lfs else None)
    return out


def _action(remote: dict[str, RemoteFile], rel: str, sha256: str, blob_id: str) -> str:
    old = remote.get(rel)
    if old is None:
        return "add"
    same = old.sha256 == sha256 if old.sha256 else old.blob_id == blob_id
    return "unchanged" if same else "update"


def remote_card(api: Any, repo_id: str, revision: str, token: str | bool | None, dest: Path) -> Path | None:
    """Download the remote ``README.md`` to `dest` (None when the repo has none)."""
    path = api.hf_hub_download(repo_id, "README.md", repo_type=REPO_TYPE, revision=revision, token=token)
    shutil.copyfile(path, dest)
    return dest


# -- staging: the card and the shared reports -----------------------------------------------
def stage_card(recipe: Recipe, repo_id: str, langs: Sequence[str], remote_readme: Path | None, staging: Path) -> Path:
    """Write the card (and reports) of `langs` merged with `remote_readme`'s configs into `staging`.

    `staging` gets links to the pushed languages' manifests, removed lists and shards, so the
    card and the report count exactly the pushed languages; the configs of other languages
    come from the remote card (`m5ser.hub.card.merge_configs`).
    """
    if staging.exists():
        shutil.rmtree(staging)
    out_dir = Path(recipe.output).resolve()
    for lang in langs:
        for rel in (f"manifests/{lang}.jsonl", f"removed/{lang}", f"data/{lang}"):
            src = out_dir / rel
            if src.exists():
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                (staging / rel).symlink_to(src, target_is_directory=src.is_dir())
    staging.mkdir(parents=True, exist_ok=True)
    if remote_readme is not None:
        shutil.copyfile(remote_readme, staging / "README.md")
    hub = dataclasses.replace(recipe.hub, repo_id=repo_id)
    return publish(dataclasses.replace(recipe, output=staging, hub=hub))


def _card_languages(card: Path) -> list[str]:
    meta, _ = read_front_matter(card)
    return sorted(str(c["config_name"]) for c in meta.get("configs") or [] if c.get("config_name") != "all")


def card_files(staging: Path, pushed: Sequence[str], notes: list[str]) -> list[tuple[str, Path]]:
    """The staged card, plus the shared reports when the card lists no language beyond `pushed`."""
    out = [("README.md", staging / "README.md")]
    others = [x for x in _card_languages(staging / "README.md") if x not in pushed]
    if others:
        notes.append(
            f"shared reports not pushed: they would count {', '.join(pushed)} only, "
            f"and the repo also holds {', '.join(others)}"
        )
        return out
    reports = [staging / rel for rel in SHARED_REPORTS] + sorted((staging / "reports").glob("*.png"))
    return out + [(p.relative_to(staging).as_posix(), p) for p in reports if p.is_file()]


# -- plan -----------------------------------------------------------------------------------
def plan_push(
    recipe: Recipe,
    opts: PushOptions,
    *,
    api: Any,
    token: str | bool | None,
    staging: Path,
    cache: dict[str, Any] | None = None,
) -> PushPlan:
    """Compare the local files of the chosen languages (and the merged card) with the remote."""
    if not REPO_ID_RE.match(opts.repo_id):
        raise PushError(f"repo id {opts.repo_id!r}: expected USER/NAME")
    out_dir = Path(recipe.output)
    have = local_languages(out_dir)
    langs = list(opts.languages) or have
    missing = [x for x in langs if x not in have]
    if missing:
        raise PushError(f"{out_dir}: no published manifest for language(s) {', '.join(missing)} (have {have})")
    if not langs:
        raise PushError(f"{out_dir}: nothing to push (no manifests/<lang>.jsonl)")
    files = [(rel, path, lang) for lang in langs for rel, path in language_files(out_dir, lang)]
    check_limits([(rel, path) for rel, path, _ in files])
    remote = remote_tree(api, opts.repo_id, opts.revision, token)
    staging.mkdir(parents=True, exist_ok=True)
    readme = None
    if remote and "README.md" in remote:
        readme = remote_card(api, opts.repo_id, opts.revision, token, staging.parent / "remote-README.md")
    notes: list[str] = []
    card = stage_card(recipe, opts.repo_id, langs, readme, staging)
    files += [(rel, path, "card") for rel, path in card_files(card.parent, langs, notes)]
    items = []
    for rel, path, group in files:
        sha256, blob_id = file_hashes(path, cache)
        action = _action(remote or {}, rel, sha256, blob_id)
        items.append(FileItem(rel, path, path.stat().st_size, sha256, blob_id, action, group))
    if remote is None:
        notes.append(f"{opts.repo_id}@{opts.revision} does not exist (or is not readable): everything is new")
    return PushPlan(opts.repo_id, opts.revision, langs, items, remote is not None, notes)


def commit_groups(plan: PushPlan, max_files: int, max_bytes: int) -> list[tuple[str, list[FileItem]]]:
    """Pending files in commits: per language, shards and sidecars first, then the rest; the card last.

    A commit holds at most `max_files` files and, unless one file alone is larger, `max_bytes`.
    """
    groups: list[tuple[str, list[FileItem]]] = []

    def kind(f: FileItem) -> int:
        return 0 if f.path.startswith(("data/", "wav/")) else 1

    for lang in [*plan.languages, "card"]:
        for k in (0, 1):
            batch: list[FileItem] = []
            for f in (f for f in plan.pending() if f.group == lang and kind(f) == k):
                if batch and (len(batch) >= max_files or sum(b.size for b in batch) + f.size > max_bytes):
                    groups.append((lang, batch))
                    batch = []
                batch.append(f)
            if batch:
                groups.append((lang, batch))
    return groups


# -- run ------------------------------------------------------------------------------------
def with_retries(
    fn: Callable[[], Any], what: str, opts: PushOptions, sleep: Callable[[float], None] = time.sleep
) -> Any:
    """Call `fn`, retrying HTTP 429/5xx with exponential back-off (a ``Retry-After`` header wins)."""
    errors = require("huggingface_hub.errors", "hub")
    for attempt in range(opts.retries):
        try:
            return fn()
        except errors.HfHubHTTPError as e:
            status = e.response.status_code if e.response is not None else None
            if status in (401, 403):
                raise PushError(
                    f"{what}: the Hub refused it (HTTP {status}): does the token have write access?"
                ) from None
            if status not in RETRY_STATUSES or attempt == opts.retries - 1:
                raise
            after = e.response.headers.get("Retry-After") if e.response is not None else None
            delay = float(after) if after and after.isdigit() else opts.backoff_s * 2**attempt
            log.warning(
                "%s: HTTP %s, retrying in %.1f s (attempt %d of %d)", what, status, delay, attempt + 2, opts.retries
            )
            sleep(delay)
    raise AssertionError("unreachable")


def ensure_repo(api: Any, opts: PushOptions, token: str) -> str:
    """Create the dataset repo (and the branch) if needed; returns the repo URL."""
    url = with_retries(
        lambda: api.create_repo(opts.repo_id, repo_type=REPO_TYPE, private=opts.private, exist_ok=True, token=token),
        f"create {opts.repo_id}",
        opts,
    )
    if opts.revision != "main":
        with_retries(
            lambda: api.create_branch(
                opts.repo_id, branch=opts.revision, repo_type=REPO_TYPE, exist_ok=True, token=token
            ),
            f"create branch {opts.revision}",
            opts,
        )
    return str(url)


def commit_batch(api: Any, opts: PushOptions, token: str, label: str, batch: Sequence[FileItem]) -> str:
    """One commit of `batch` (retried on 429/5xx); returns the commit id."""
    hub = require("huggingface_hub", "hub")
    size = sum(f.size for f in batch)
    message = f"m5ser push: {label} ({len(batch)} files, {size} bytes)"

    def commit() -> Any:
        ops = [hub.CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=str(f.local)) for f in batch]
        return api.create_commit(
            opts.repo_id,
            operations=ops,
            commit_message=message,
            repo_type=REPO_TYPE,
            revision=opts.revision,
            token=token,
        )

    return str(with_retries(commit, f"commit {label}", opts).oid)


def staging_dir(recipe: Recipe, opts: PushOptions) -> Path:
    """Where a push of `opts` stages its card: ``work_dir/push/<owner>--<name>--<revision>/``."""
    safe = re.sub(r"[^\w.-]+", "--", f"{opts.repo_id}--{opts.revision}")
    return Path(recipe.work_dir) / "push" / safe


def push(
    recipe: Recipe,
    opts: PushOptions,
    *,
    token_file: Path | None = None,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
) -> PushResult:
    """Plan and (unless `dry_run`) run a push; `say` receives progress lines (never the token)."""
    hub = require("huggingface_hub", "hub")
    start = time.perf_counter()
    token = resolve_token(token_file)
    api = hub.HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)  # read now, not at import
    if not dry_run:
        user = check_write_access(api, token)
        say(f"pushing to {opts.repo_id}@{opts.revision} on {api.endpoint} as {user}")
    work = staging_dir(recipe, opts)
    cache_path = work / "hashes.json"
    cache = _load_cache(cache_path)
    plan = plan_push(recipe, opts, api=api, token=token or False, staging=work / "staging", cache=cache)
    work.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cache_path, json.dumps(cache, sort_keys=True))
    result = PushResult(plan=plan, bytes_planned=sum(f.size for f in plan.pending()))
    for note in plan.notes:
        say(f"note: {note}")
    if dry_run:
        result.seconds = time.perf_counter() - start
        return result
    assert token is not None  # check_write_access raised otherwise
    result.url = ensure_repo(api, opts, token)
    groups = commit_groups(plan, opts.max_commit_files, opts.max_commit_bytes)
    for i, (label, batch) in enumerate(groups, 1):
        oid = commit_batch(api, opts, token, label, batch)
        result.commits.append(oid)
        say(f"commit {i}/{len(groups)} {label}: {len(batch)} files, {sum(f.size for f in batch)} bytes -> {oid[:10]}")
    result.seconds = time.perf_counter() - start
    return result


def plan_rows(plan: PushPlan, only_pending: bool = True) -> Iterable[list[str]]:
    """Table rows (path, action, bytes) of the plan."""
    for f in plan.files:
        if f.action != "unchanged" or not only_pending:
            yield [f.path, f.action, str(f.size)]
