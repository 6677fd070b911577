"""pytest collection rules for exercises/: the student notebooks (directly in this folder) hold
stubs and no outputs, so ``--nbval`` does not run them; tests/test_exercises_notebooks.py grades
them instead (every task "not attempted", no crash). The solution sources in solutions/ are
committed with outputs and are checked by nbval."""

from pathlib import Path

collect_ignore = [str(p) for p in Path(__file__).parent.glob("*.ipynb")]
