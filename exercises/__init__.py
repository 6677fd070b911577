"""ConvBook's graded exercises: the checking machinery, the tasks of each chapter, the grader.

In a notebook::

    from exercises.tasks.ch01 import q1
    q1.check(conv2d_single_channel)   # verdict + diagnosis; q1.hint(); q1.solution()

From a terminal: ``python -m exercises grade NOTEBOOK.ipynb`` and ``python -m exercises generate``.
"""

__all__: list[str] = []
