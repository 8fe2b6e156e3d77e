r"""The ``mlops-nb`` command: reports, the demo suite and project checks.

Examples
--------
::

    mlops-nb demo --notebooks notebooks --out reports
    mlops-nb report notebooks/01_dataops.ipynb -p seed 1 -o dataops.html
    mlops-nb verify employment-demo
    mlops-nb retrain employment-demo --model employment --data new.parquet \
        --report retrain.html
    mlops-nb serve employment-demo employment --stage production
    mlops-nb db upgrade 'postgresql://ml@db.internal/mlops?schema=credit'
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import MlopsNbError

if TYPE_CHECKING:
    from collections.abc import Sequence


def _value(text: str) -> Any:
    """Parse a parameter value as a Python literal if it is one, else keep the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _name(text: str) -> str:
    """Return a parameter name, refusing anything but a plain Python identifier.

    papermill writes ``name = value`` into the notebook as code: a name such as
    ``x=__import__('os').system('...');y`` would run.
    """
    import keyword

    from mlops_nb.errors import ValidationError

    if (
        not text.isidentifier()
        or not text.isascii()
        or keyword.iskeyword(text)
        or text.startswith("__")
    ):
        msg = (
            f"report parameter name {text!r} is not a plain Python name: use letters, "
            "digits and '_' (not starting with a digit or '__', not a keyword), "
            "e.g. -p seed 1."
        )
        raise ValidationError(msg)
    return text


def _cmd_report(args: argparse.Namespace) -> int:
    from mlops_nb._report import run_report

    params = {_name(name): _value(value) for name, value in args.parameter or []}
    out = Path(args.output or Path(args.notebook).with_suffix(".html").name)
    result = run_report(args.notebook, out, parameters=params)
    print(f"wrote {result['html']} and {result['json']} ({result['seconds']:.1f} s)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from mlops_nb._demo import run_demo

    # MLOPS_NB_PROJECT (a team database URL or a folder): one project for every notebook
    return 1 if run_demo(args.notebooks, args.out) else 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from mlops_nb._project import Project

    report = Project.open(args.project, create=False, artifacts=args.artifacts).verify()
    print(report)
    for digest, problem in report.problems.items():
        print(f"  {digest}: {problem}")
    return 0 if report.ok else 1


_PROJECT_HELP = "a project folder, or a team database URL (postgresql://...)"
_ARTIFACTS_HELP = "a team project's file store (s3://bucket/prefix); with a URL only"


def _cmd_retrain(args: argparse.Namespace) -> int:
    from mlops_nb._project import Project
    from mlops_nb.model._retrain import retrain, write_report

    min_metrics = {}
    for item in args.min_metric or []:
        key, _, value = item.partition("=")
        min_metrics[key] = float(value)
    project = Project.open(args.project, create=False, artifacts=args.artifacts)
    result = retrain(
        project,
        args.model,
        args.data,
        test=args.test,
        tolerance=args.tolerance,
        min_metrics=min_metrics or None,
    )
    out = write_report(project, result, Path(args.report))
    verdict = "promoted" if result.promoted else "NOT promoted (gates failed)"
    print(
        f"{args.model}: challenger v{result.challenger} {verdict}; "
        f"report {out['html']}, summary {out['json']}"
    )
    if result.overlap:
        from mlops_nb.model._retrain_checks import comparison_note

        print(f"  {comparison_note(result.overlap)}")
    for failure in result.failures:
        print(f"  gate {failure['gate']}: {failure['message']}", file=sys.stderr)
    return 0 if result.promoted else 1


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``mlops-nb``."""
    parser = argparse.ArgumentParser(
        prog="mlops-nb", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    report = sub.add_parser(
        "report", help="run a notebook with papermill and export HTML"
    )
    report.add_argument("notebook")
    report.add_argument(
        "-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE")
    )
    report.add_argument("-o", "--output", help="the HTML file to write")
    report.set_defaults(func=_cmd_report)
    demo = sub.add_parser(
        "demo",
        help="run every companion notebook into HTML reports (all on one project, "
        "e.g. a team database URL, with MLOPS_NB_PROJECT)",
    )
    demo.add_argument("--notebooks", default="notebooks")
    demo.add_argument("--out", default="reports")
    demo.set_defaults(func=_cmd_demo)
    retrain = sub.add_parser(
        "retrain", help="retrain a model on new data; promote only if gates pass"
    )
    retrain.add_argument("project", help=_PROJECT_HELP)
    retrain.add_argument("--artifacts", help=_ARTIFACTS_HELP)
    retrain.add_argument(
        "--model",
        required=True,
        help="the model name (its production version is the champion)",
    )
    retrain.add_argument(
        "--data",
        required=True,
        help="new labelled data: .csv or .parquet, with the columns of the "
        "champion's data (checked before anything is stored; exit 2 if refused)",
    )
    retrain.add_argument(
        "--test",
        type=float,
        default=0.2,
        help="share of the new data held out (default 0.2)",
    )
    retrain.add_argument(
        "--tolerance",
        type=float,
        default=0.01,
        help="how much worse than the champion is allowed",
    )
    retrain.add_argument(
        "--min-metric", action="append", metavar="METRIC=VALUE", help="e.g. roc_auc=0.8"
    )
    retrain.add_argument(
        "--report",
        default="retrain.html",
        help="HTML report (a .json summary is written beside it)",
    )
    retrain.set_defaults(func=_cmd_retrain)
    verify = sub.add_parser("verify", help="check every artifact of a project")
    verify.add_argument("project", help=_PROJECT_HELP)
    verify.add_argument("--artifacts", help=_ARTIFACTS_HELP)
    verify.set_defaults(func=_cmd_verify)
    from mlops_nb.deploy._cli import add_serve_parser  # light: stdlib only

    add_serve_parser(sub)
    from mlops_nb.store._db_cli import add_db_parser  # light: stdlib only

    add_db_parser(sub)
    from mlops_nb.store._copy import add_copy_parser  # light: stdlib only

    add_copy_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mlops-nb`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except MlopsNbError as err:
        print(f"mlops-nb: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
