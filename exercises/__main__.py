"""``python -m exercises generate [--check]`` and ``python -m exercises grade PATH [--json REPORT]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exercises", description="ConvBook's exercises.")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write the student notebooks from exercises/solutions/")
    gen.add_argument("--check", action="store_true",
                     help="only report student notebooks that are out of date (exit 1 if any)")
    gen.add_argument("--execute", action="store_true",
                     help="first re-run the solution notebooks in place (fresh outputs for nbval)")
    grade = sub.add_parser("grade", help="execute and score a notebook, or every notebook in a folder")
    grade.add_argument("path", help="a .ipynb file or a folder of them")
    grade.add_argument("--json", metavar="REPORT", help="also write the report as JSON to this file")
    grade.add_argument("--timeout", type=float, default=60.0, help="seconds per cell (default 60)")
    args = parser.parse_args(argv)

    if args.command == "generate":
        from exercises.notebooks import STUDENT_DIR, execute_sources, generate
        if args.execute and not args.check:
            for path in execute_sources():
                print(f"executed: {path.relative_to(STUDENT_DIR.parent)}")
        changed = generate(check=args.check)
        verb = "out of date" if args.check else "written"
        for path in changed:
            print(f"{verb}: {path.relative_to(STUDENT_DIR.parent)}")
        if not changed:
            print("student notebooks are up to date")
        return 1 if (args.check and changed) else 0

    from exercises.grade import UnusableInput, format_report, format_table, grade_path
    try:
        reports = grade_path(args.path, args.timeout)
    except UnusableInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if Path(args.path).is_dir():
        print(format_table(reports))
        payload = {"notebooks": reports}
    else:
        print(format_report(reports[0]))
        payload = reports[0]
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"report written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
