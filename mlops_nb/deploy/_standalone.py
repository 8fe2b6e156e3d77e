#!/usr/bin/env python3
"""Predict with the ONNX model of this edge bundle; needs only numpy and onnxruntime.

Usage::

    python predict.py rows.csv            # or rows.json (objects), or - for stdin
    python predict.py rows.csv --format csv > predictions.csv
    python predict.py --verify            # check the bundle's files and exit

Before anything is loaded, every file listed in ``manifest.json`` is hashed (SHA-256)
and compared with the manifest; the manifest checks itself too. One changed byte in
any file and this script refuses to run (exit status 3). Pin the manifest you trust
with ``--manifest-sha256 HEX`` (its SHA-256 was printed when the bundle was made).

Input rows are checked against ``schema.json``: every input column present, numbers
finite, and no column but the inputs and those the training data declared as id,
time, target or sensitive (the id is echoed with each prediction, the target ignored
with a note). A category never seen in training is treated as unknown, as the model
does in Python, and the row is flagged in ``unseen_categories``; ``--strict`` refuses
it instead. Problems are listed on stderr (exit status 2).

Run it as ``python -I predict.py ...`` (isolated mode). Plain ``python predict.py``
puts this folder first on ``sys.path``, so a ``hashlib.py`` or ``onnxruntime.py``
dropped in here would be imported instead of the real module; this script removes its
own folder from ``sys.path`` before it imports anything (which is also why it has no
``from __future__`` import), and refuses to run while the folder holds any file or
link its manifest does not list.

Written by mlops_nb; the same checks validate requests to ``model.serve()``.
"""

import sys  # built into the interpreter: never read from this folder

if __name__ == "__main__":
    # Before any other import: forget this folder (python predict.py put it first).
    _os = sys.modules.get("os")  # loaded at startup by site; None under -S
    if _os is not None:
        _here = _os.path.dirname(_os.path.realpath(__file__))
        sys.path[:] = [
            p for p in sys.path if _os.path.realpath(p or _os.curdir) != _here
        ]
    elif not (sys.flags.isolated or getattr(sys.flags, "safe_path", False)):
        del sys.path[:1]  # python -S predict.py: the folder the interpreter prepended

import argparse
import csv
import hashlib
import io
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

FORMAT = "mlops-nb-edge-bundle/1"
MANIFEST = "manifest.json"
MAX_PROBLEMS = 20
FLOAT32_MAX = 3.4028234663852886e38


class BundleError(Exception):
    """The bundle's files do not match its manifest; nothing was loaded."""


class InputError(Exception):
    """Input rows that do not fit the schema; ``problems`` lists each one."""

    def __init__(self, message: str, problems: list[dict[str, Any]]):
        super().__init__(message)
        self.problems = problems


class _NonFinite:
    """Stands for a ``NaN``/``Infinity`` token found while parsing JSON."""

    def __init__(self, token: str):
        self.token = token


# -- the manifest ----------------------------------------------------------------
def canonical(obj: Any) -> bytes:
    """Serialise a manifest the one way: sorted keys, two-space indent, ASCII."""
    return (
        json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=True, allow_nan=False)
        + "\n"
    ).encode()


def manifest_digest(manifest: dict[str, Any]) -> str:
    """SHA-256 of the manifest without its own ``manifest_sha256`` field."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(canonical(body)).hexdigest()


def _read_regular(path: Path) -> bytes:
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        msg = "not a regular file (a link or a folder)"
        raise OSError(msg)
    with path.open("rb") as fh:
        return fh.read()


def read_verified(folder: Path, expect_manifest: str | None = None) -> dict[str, bytes]:
    """Return the bytes of every file the manifest lists, after checking each one.

    Raises
    ------
    BundleError
        Listing every file that is missing, a link, changed or unlisted in the
        manifest's own checksum, and every file, folder or link in the bundle folder
        that the manifest does not list (nothing unverified may sit beside the
        script, where Python would import it from).
    """
    folder = Path(folder)
    try:
        raw = _read_regular(folder / MANIFEST)
    except OSError as err:
        msg = f"{MANIFEST}: cannot be read ({err}); refusing to run."
        raise BundleError(msg) from err
    problems = []
    if expect_manifest and hashlib.sha256(raw).hexdigest() != expect_manifest.lower():
        problems.append(f"{MANIFEST}: SHA-256 is not the expected {expect_manifest}")
    try:
        manifest = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as err:
        msg = f"{MANIFEST}: not valid JSON ({err}); refusing to run."
        raise BundleError(msg) from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        msg = (
            f"{MANIFEST}: not an mlops_nb bundle manifest ({FORMAT}); refusing to run."
        )
        raise BundleError(msg)
    if canonical(manifest) != raw:
        problems.append(f"{MANIFEST}: its bytes changed (not in canonical form)")
    if manifest.get("manifest_sha256") != manifest_digest(manifest):
        problems.append(f"{MANIFEST}: its own checksum does not match")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        msg = f"{MANIFEST}: lists no files; refusing to run."
        raise BundleError(msg)
    out = {}
    for name, digest in sorted(files.items()):
        if (
            not isinstance(name, str)
            or "/" in name
            or "\\" in name
            or name.startswith(".")
            or name == MANIFEST
        ):
            problems.append(f"{name!r}: not a plain file name")
            continue
        try:
            data = _read_regular(folder / name)
        except FileNotFoundError:
            problems.append(f"{name}: missing")
            continue
        except OSError as err:
            problems.append(f"{name}: {err}")
            continue
        if hashlib.sha256(data).hexdigest() != digest:
            problems.append(f"{name}: changed (SHA-256 differs from the manifest)")
            continue
        out[name] = data
    problems.extend(_unlisted(folder, {*files, MANIFEST}))
    if problems:
        raise BundleError(
            "integrity check failed, refusing to run: " + "; ".join(problems)
        )
    return out


def _unlisted(folder: Path, listed: set[str]) -> list[str]:
    """Name each entry of the bundle folder that the manifest does not list."""
    try:
        entries = sorted(Path(folder).iterdir())
    except OSError as err:
        return [f"{folder}: cannot be listed ({err})"]
    problems = []
    for path in entries:
        name = path.name
        if name in listed:
            continue
        kind = (
            "a link" if path.is_symlink() else "a folder" if path.is_dir() else "a file"
        )
        problems.append(
            f"{name}: {kind} that manifest.json does not list (only verified files "
            "may sit beside predict.py; remove it)"
        )
    return problems


# -- input rows ------------------------------------------------------------------
def _refuse_constant(token: str) -> Any:
    msg = f"{token} is not allowed in JSON"
    raise ValueError(msg)


def parse_json(text: str | bytes) -> Any:
    """Parse JSON, marking ``NaN``/``Infinity`` so validation can name their field.

    Raises
    ------
    InputError
        For invalid JSON or nesting too deep to parse.
    """
    try:
        return json.loads(text, parse_constant=_NonFinite)
    except RecursionError as err:
        msg = "the JSON is nested too deeply"
        raise InputError(
            msg,
            [
                {
                    "row": None,
                    "field": None,
                    "rule": "nesting",
                    "message": "the JSON is nested too deeply",
                }
            ],
        ) from err
    except (ValueError, UnicodeDecodeError) as err:
        msg = f"not valid JSON: {err}"
        raise InputError(
            msg,
            [
                {
                    "row": None,
                    "field": None,
                    "rule": "json",
                    "message": f"not valid JSON: {err}",
                }
            ],
        ) from err


def records_of(payload: Any) -> list[Any]:
    """Return the records of a payload: an array of objects, or one object."""
    if isinstance(payload, dict):
        return [payload]
    if isinstance(payload, list):
        return payload
    message = "expected an object (one row) or an array of objects (a batch)"
    problem = {"row": None, "field": None, "rule": "shape", "message": message}
    raise InputError(message, [problem])


def _short(values: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (
        f", ... ({len(values) - limit} more)" if len(values) > limit else ""
    )


#: Roles of columns a row may carry besides the model's inputs (``schema["roles"]``).
ROLES = ("id", "time", "target", "sensitive")


def role_columns(schema: dict[str, Any]) -> dict[str, str]:
    """Map each declared non-input column a row may carry to its role."""
    roles = schema.get("roles") or {}
    inputs = {i["name"] for i in schema["inputs"]}
    out: dict[str, str] = {}
    for role in ROLES:
        names = roles.get(role)
        for name in [names] if isinstance(names, str) else names or []:
            if isinstance(name, str) and name not in inputs:
                out.setdefault(name, role)
    return out


def validate_records(
    records: list[Any],
    schema: dict[str, Any],
    *,
    max_rows: int | None = None,
    strict: bool = False,
    from_text: bool = False,
) -> dict[str, list[Any]]:
    """Check rows against the schema and return one list of values per input column.

    The columns of :func:`check_rows`; see there.
    """
    return check_rows(
        records, schema, max_rows=max_rows, strict=strict, from_text=from_text
    )["columns"]


def check_rows(
    records: list[Any],
    schema: dict[str, Any],
    *,
    max_rows: int | None = None,
    strict: bool = False,
    from_text: bool = False,
) -> dict[str, Any]:
    """Check rows against the schema: the model's inputs, and the declared roles.

    Numbers become floats (``None`` when missing); categories become text (the
    schema's missing marker when missing). With ``from_text`` (CSV), numbers are
    parsed from text and an empty cell is missing. Besides the inputs, a row may
    carry the columns the training data declared as id, time, target or sensitive
    (``schema["roles"]``): the id is echoed with each prediction, id, time and
    sensitive values are kept for the record, the target is ignored with a note.
    A category never seen in training goes to the model, which treats it as it does
    in Python (unknown: LightGBM's ordinal code -1, all zeros in one-hot), and the
    row is flagged; ``strict=True`` refuses it instead.

    Returns
    -------
    dict
        ``columns`` (input name -> values), ``extra`` (role column -> values, as
        given), ``id`` (the id column sent, or None), ``unseen`` (per row: the
        columns holding an unseen category) and ``notes``.

    Raises
    ------
    InputError
        Naming each bad row, field and rule: ``missing``, ``extra``, ``type``,
        ``not_finite``, ``unseen_category`` (strict), ``max_rows``, ``empty``,
        ``nesting``.
    """
    problems: list[dict[str, Any]] = []

    def problem(row: int | None, field: str | None, rule: str, message: str) -> None:
        problems.append({"row": row, "field": field, "rule": rule, "message": message})

    if max_rows is not None and len(records) > max_rows:
        problem(
            None,
            None,
            "max_rows",
            f"{len(records)} rows in one request; at most {max_rows} allowed",
        )
        raise InputError(problems[0]["message"], problems)
    if not records:
        problem(None, None, "empty", "no rows to predict")
        raise InputError(problems[0]["message"], problems)
    inputs = schema["inputs"]
    names = [i["name"] for i in inputs]
    roles = role_columns(schema)
    known = set(names) | set(roles)
    missing_marker = schema.get("missing_category", "(missing)")
    categories = {
        i["name"]: set(i.get("categories") or [])
        for i in inputs
        if i["kind"] == "categorical"
    }
    columns: dict[str, list[Any]] = {n: [] for n in names}
    sent = [
        c
        for c in roles
        if any(isinstance(r, dict) and c in r for r in records) and roles[c] != "target"
    ]
    extra: dict[str, list[Any]] = {c: [] for c in sent}
    unseen: list[list[str]] = []
    for r, record in enumerate(records):
        if len(problems) >= MAX_PROBLEMS:
            break
        if not isinstance(record, dict):
            problem(
                r,
                None,
                "type",
                f"row {r} is a {type(record).__name__}, expected an object",
            )
            continue
        for name in sorted(set(record) - known, key=str):
            also = f" and also accepts {_short(list(roles))}" if roles else ""
            problem(
                r,
                str(name),
                "extra",
                f"unknown column {str(name)!r}; the model reads {len(names)} "
                f"column(s), {_short(list(names))}{also}",
            )
        for name in sent:
            value = record.get(name)
            if isinstance(value, (dict, list, _NonFinite)):
                problem(
                    r,
                    name,
                    "type",
                    f"column {name!r} ({roles[name]}) holds "
                    f"{getattr(value, 'token', type(value).__name__)}; expected a "
                    "plain value",
                )
            elif isinstance(value, float) and not math.isfinite(value):
                problem(r, name, "not_finite", f"column {name!r} is {value!r}")
            extra[name].append(None if from_text and value == "" else value)
        flagged: list[str] = []
        for spec in inputs:
            name = spec["name"]
            if name not in record:
                problem(r, name, "missing", f"column {name!r} is missing")
                continue
            value = record[name]
            if isinstance(value, (dict, list)):
                problem(
                    r,
                    name,
                    "nesting",
                    f"column {name!r} holds a nested {type(value).__name__}; expected "
                    "a plain value",
                )
            elif isinstance(value, _NonFinite):
                problem(
                    r,
                    name,
                    "not_finite",
                    f"column {name!r} is {value.token}; numbers must be finite (use "
                    "null for missing)",
                )
            elif spec["kind"] == "numeric":
                columns[name].append(_number(value, name, r, from_text, problem))
            else:
                text = _category(value, name, r, from_text, missing_marker, problem)
                if (
                    text is not None
                    and categories[name]
                    and text not in categories[name]
                    and text != missing_marker
                ):
                    flagged.append(name)
                    if strict:
                        problem(
                            r,
                            name,
                            "unseen_category",
                            f"column {name!r} has {text!r}, a value never seen in "
                            "training; known: "
                            f"{_short(sorted(categories[name]))}",
                        )
                columns[name].append(text)
        unseen.append(flagged)
    if problems:
        more = "" if len(problems) < MAX_PROBLEMS else f" (first {MAX_PROBLEMS} shown)"
        raise InputError(
            "; ".join(p["message"] for p in problems[:3]) + more,
            problems[:MAX_PROBLEMS],
        )
    notes = [
        f"column {c!r} is the target ({schema['model'].get('target')!r}): ignored, "
        "the model predicts it"
        for c in roles
        if roles[c] == "target" and any(c in r for r in records)
    ]
    if any(unseen):
        notes.append(
            f"{sum(1 for u in unseen if u)} row(s) hold a category never seen in "
            "training (flagged in unseen_categories); the model treats it as unknown"
        )
    id_column = next((c for c in sent if roles[c] == "id"), None)
    return {
        "columns": columns,
        "extra": extra,
        "id": id_column,
        "unseen": unseen,
        "notes": notes,
    }


def _number(
    value: Any, name: str, r: int, from_text: bool, problem: Any
) -> float | None:
    if value is None or (from_text and isinstance(value, str) and not value.strip()):
        return None
    if from_text and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            problem(r, name, "type", f"column {name!r} is {value!r}, not a number")
            return None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        problem(
            r,
            name,
            "type",
            f"column {name!r} is a {type(value).__name__} ({value!r}); expected a "
            "number",
        )
        return None
    else:
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    if not math.isfinite(number):
        problem(
            r,
            name,
            "not_finite",
            f"column {name!r} is {value!r}; numbers must be finite",
        )
        return None
    if abs(number) > FLOAT32_MAX:
        problem(
            r,
            name,
            "range",
            f"column {name!r} is {value!r}, outside the float32 range the model reads",
        )
        return None
    return number


def _category(
    value: Any, name: str, r: int, from_text: bool, marker: str, problem: Any
) -> str | None:
    if value is None or (from_text and value == ""):
        return marker
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(value)
    problem(
        r, name, "type", f"column {name!r} is a {type(value).__name__}; expected text"
    )
    return None


def read_csv_rows(text: str) -> list[dict[str, str]]:
    """Rows of a CSV file with a header line, as dicts of text."""
    return [dict(row) for row in csv.DictReader(io.StringIO(text))]


def to_feeds(columns: dict[str, list[Any]], schema: dict[str, Any]) -> dict[str, Any]:
    """ONNX inputs (``[rows, 1]`` arrays) from validated columns.

    Rows use the column names; the graph reads ``onnx_name`` (a valid identifier
    mapped from any column name when the model was exported).
    """
    import numpy as np

    feeds = {}
    for spec in schema["inputs"]:
        values = columns[spec["name"]]
        if spec["kind"] == "numeric":
            arr = np.array(
                [np.nan if v is None else v for v in values], dtype=np.float32
            )
        else:
            arr = np.array(values, dtype=object)
        feeds[spec.get("onnx_name") or spec["name"]] = arr.reshape(-1, 1)
    return feeds


def format_outputs(
    outputs: list[Any], schema: dict[str, Any], rows: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build the JSON answer: predictions (and probabilities, in class order).

    A binary model whose schema carries a ``threshold`` (``value``,
    ``positive_index``) predicts its positive class when that class's probability is
    at least ``value``, and the answer names the threshold; else the most likely class.

    With the checked ``rows`` of :func:`check_rows`: the id of each row (``ids``,
    under the id column's name in ``id_column``) when the rows carried it, the
    columns of each row holding a category never seen in training
    (``unseen_categories``, one list per row) and ``notes``.
    """
    model = schema["model"]
    if model["task"] == "regression":
        out: dict[str, Any] = {
            "predictions": [float(v) for v in outputs[0].reshape(-1)]
        }
    else:
        labels = outputs[0].reshape(-1).tolist()
        proba = [[round(float(p), 7) for p in row] for row in outputs[1]]
        out = {
            "classes": model["classes"],
            "predictions": labels,
            "probabilities": proba,
        }
        rule = model.get("threshold")
        if rule and len(model["classes"]) == 2:
            # a binary model decides its positive class when P(positive) >= threshold
            k, classes = int(rule["positive_index"]), model["classes"]
            out["predictions"] = [
                classes[k] if float(row[k]) >= rule["value"] else classes[1 - k]
                for row in outputs[1]
            ]
            out["threshold"] = {
                "value": rule["value"],
                "positive_class": classes[k],
                "source": rule.get("source"),
            }
    if rows is not None:
        if rows["id"] is not None:
            out["id_column"] = rows["id"]
            out["ids"] = rows["extra"][rows["id"]]
        out["unseen_categories"] = rows["unseen"]
        if rows["notes"]:
            out["notes"] = rows["notes"]
    return out


# -- loading and running ---------------------------------------------------------
class Bundle:
    """A verified bundle: its schema and an onnxruntime session on its model."""

    def __init__(
        self, folder: Path | str | None = None, *, expect_manifest: str | None = None
    ):
        files = read_verified(
            Path(folder) if folder else Path(__file__).resolve().parent, expect_manifest
        )
        self.schema = json.loads(files["schema.json"].decode("utf-8"))
        # onnxruntime's Linux/macOS wheels upload usage telemetry from native code
        # unless this is set before the import (disable_telemetry_events() does not
        # stop it); an explicit setting by the user is kept
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        import onnxruntime as ort

        if hasattr(ort, "disable_telemetry_events"):
            ort.disable_telemetry_events()
        options = ort.SessionOptions()
        level = self.schema.get("runtime", {}).get(
            "graph_optimization_level", "ORT_ENABLE_ALL"
        )
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        options.intra_op_num_threads = 1
        # from the verified bytes, never from a path: nothing else is read
        self.session = ort.InferenceSession(
            files["model.onnx"], options, providers=["CPUExecutionProvider"]
        )

    def predict(
        self, records: list[Any], *, strict: bool = False, from_text: bool = False
    ) -> dict[str, Any]:
        """Validate rows and predict them (see :func:`check_rows`)."""
        rows = check_rows(records, self.schema, strict=strict, from_text=from_text)
        return format_outputs(
            self.session.run(None, to_feeds(rows["columns"], self.schema)),
            self.schema,
            rows,
        )


def _print_problems(err: InputError) -> None:
    for p in err.problems:
        where = "" if p["row"] is None else f"row {p['row']}: "
        print(f"predict.py: {where}{p['message']} [{p['rule']}]", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Command line: predict rows from a CSV or JSON file (or stdin)."""
    parser = argparse.ArgumentParser(
        description="Predict with this bundle (numpy + onnxruntime only)."
    )
    parser.add_argument(
        "rows", nargs="?", help="a .csv or .json file, or - for JSON on stdin"
    )
    parser.add_argument(
        "--format", choices=("json", "csv"), default="json", help="output format"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse categories not seen in training (default: flag the row)",
    )
    parser.add_argument(  # kept for scripts written before it became the default
        "--allow-unseen", action="store_true", help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--manifest-sha256", help="refuse unless manifest.json has this SHA-256"
    )
    parser.add_argument(
        "--verify", action="store_true", help="only check the bundle's files"
    )
    args = parser.parse_args(argv)
    try:
        if args.verify:
            read_verified(Path(__file__).resolve().parent, args.manifest_sha256)
            print("bundle verified: every file matches manifest.json")
            return 0
        bundle = Bundle(expect_manifest=args.manifest_sha256)
    except BundleError as err:
        print(f"predict.py: {err}", file=sys.stderr)
        return 3
    if not args.rows:
        parser.error("give a .csv or .json file of rows (or - for JSON on stdin)")
    is_csv = args.rows.lower().endswith(".csv")
    try:
        text = (
            sys.stdin.read()
            if args.rows == "-"
            else Path(args.rows).read_text(encoding="utf-8")
        )
        rows = read_csv_rows(text) if is_csv else records_of(parse_json(text))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        what = "stdin" if args.rows == "-" else args.rows
        reason = getattr(err, "strerror", None) or str(err) or type(err).__name__
        print(
            f"predict.py: cannot read rows from {what}: {reason} (give a UTF-8 "
            f"{'CSV file with a header line' if is_csv else 'JSON file'})",
            file=sys.stderr,
        )
        return 2
    except InputError as err:
        _print_problems(err)
        return 2
    try:
        result = bundle.predict(
            rows, strict=args.strict and not args.allow_unseen, from_text=is_csv
        )
    except InputError as err:
        _print_problems(err)
        return 2
    for note in result.get("notes", []):
        print(f"predict.py: note: {note}", file=sys.stderr)
    if args.format == "json":
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
        return 0
    writer = csv.writer(sys.stdout)
    classes = result.get("classes")
    ids = result.get("ids")
    unseen = result.get("unseen_categories") or []
    flag = any(unseen)
    writer.writerow(
        ([result["id_column"]] if ids is not None else [])
        + ["prediction"]
        + [f"proba_{c}" for c in classes or []]
        + (["unseen_categories"] if flag else [])
    )
    for i, label in enumerate(result["predictions"]):
        writer.writerow(
            ([ids[i]] if ids is not None else [])
            + [label]
            + (result["probabilities"][i] if classes else [])
            + ([" | ".join(unseen[i])] if flag else [])
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
