"""``python -m exercises generate [--check]`` and ``python -m exercises grade PATH [--json REPORT]
[--jobs N]`` (a folder: also a gradebook CSV beside the JSON)."""

from __future__ import annotations

import argparse
import json
import sys
import time
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
    grade.add_argument("--timeout", type=float, default=60.0,
                       help="seconds per cell; the kernel is killed 2 s after (default 60)")
    grade.add_argument("--notebook-timeout", type=float, default=None,
                       help="seconds for a whole notebook's run, and again for its check "
                            "(default: 10 x --timeout, at least 300)")
    grade.add_argument("--memory-mb", type=int, default=None,
                       help="memory cap of the kernel and of the learner's code in MB (default 2048; 0: none)")
    grade.add_argument("--jobs", "-j", type=int, default=1, help="notebooks graded at the same time (a folder)")
    grade.add_argument("--csv", metavar="GRADEBOOK",
                       help="gradebook CSV for a folder (default: beside --json, same name, .csv)")
    grade.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
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

    from exercises.grade import (DEFAULT_MEMORY_MB, UnusableInput, format_report, format_table,
                                 grade_path, write_gradebook)
    memory = DEFAULT_MEMORY_MB if args.memory_mb is None else (args.memory_mb or None)
    start = time.perf_counter()
    try:
        reports = grade_path(args.path, args.timeout, jobs=args.jobs, notebook_timeout=args.notebook_timeout,
                             memory_mb=memory)
    except UnusableInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    folder = Path(args.path).is_dir()
    payload = {"notebooks": reports} if folder else reports[0]
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.quiet:
        return 0
    if folder:
        print(format_table(reports))
        gradebook = args.csv or (str(Path(args.json).with_suffix(".csv")) if args.json else None)
        if gradebook:
            write_gradebook(reports, gradebook)
            print(f"gradebook written to {gradebook}")
        print(f"{len(reports)} notebooks graded in {time.perf_counter() - start:.1f} s")
    else:
        print(format_report(reports[0]))
    if args.json:
        print(f"report written to {args.json}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
