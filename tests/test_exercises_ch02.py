"""Chapter "Padding, stride and dilation" exercises: every case's expected answer equals
PyTorch's shape, the known mistakes are diagnosed, and the student stubs fail cleanly."""

import math

import pytest
import torch

from exercises.tasks.ch02 import (conv_size_reference, output_padding_reference, q1, q2, q3,
                                  transpose_size_reference)

pytestmark = pytest.mark.exercises


def _args(task, case):
    return task.arguments(case)


@pytest.mark.parametrize("case", q1.cases(), ids=lambda c: c.label[:40])
def test_conv_cases_match_torch(case):
    a = _args(q1, case)
    y = torch.nn.functional.conv1d(torch.zeros(1, 1, a["i"]), torch.zeros(1, 1, a["k"]),
                                   stride=a["s"], padding=a["p"], dilation=a["d"])
    assert conv_size_reference(**a) == y.shape[-1]


@pytest.mark.parametrize("case", q2.cases(), ids=lambda c: c.label[:40])
def test_transposed_cases_match_torch(case):
    a = _args(q2, case)
    y = torch.nn.functional.conv_transpose1d(
        torch.zeros(1, 1, a["i"]), torch.zeros(1, 1, a["k"]), stride=a["s"], padding=a["p"],
        dilation=a["d"], output_padding=a["output_padding"])
    assert transpose_size_reference(**a) == y.shape[-1]


@pytest.mark.parametrize("case", q3.cases(), ids=lambda c: c.label[:40])
def test_output_padding_cases_give_the_size_back_in_torch(case):
    a = _args(q3, case)
    o = torch.nn.functional.conv1d(torch.zeros(1, 1, a["i"]), torch.zeros(1, 1, a["k"]),
                                   stride=a["s"], padding=a["p"], dilation=a["d"]).shape[-1]
    back = torch.nn.functional.conv_transpose1d(
        torch.zeros(1, 1, o), torch.zeros(1, 1, a["k"]), stride=a["s"], padding=a["p"],
        dilation=a["d"], output_padding=output_padding_reference(**a)).shape[-1]
    assert back == a["i"]


@pytest.mark.parametrize("task,fn,name", [
    (q1, lambda i, k, s=1, p=0, d=1: (i + 2 * p - k) // s + 1, "dilation forgotten"),
    (q1, lambda i, k, s=1, p=0, d=1: (i + 2 * p - d * k) // s + 1, "dilation as d*k"),
    (q1, lambda i, k, s=1, p=0, d=1: (i + p - d * (k - 1) - 1) // s + 1, "total padding"),
    (q1, lambda i, k, s=1, p=0, d=1: math.ceil((i + 2 * p - d * (k - 1) - 1) / s) + 1, "ceil"),
    (q1, lambda i, k, s=1, p=0, d=1: (i + 2 * p - d * (k - 1) - 1) // s, "+1 is missing"),
    (q2, lambda i, k, s=1, p=0, d=1, output_padding=0: (i - 1) * s - 2 * p + k + output_padding,
     "dilation forgotten"),
    (q2, lambda i, k, s=1, p=0, d=1, output_padding=0:
        (i - 1) * s - p + d * (k - 1) + output_padding + 1, "total padding"),
    (q2, lambda i, k, s=1, p=0, d=1, output_padding=0: (i - 1) * s - 2 * p + d * (k - 1) + 1,
     "output_padding ignored"),
    (q2, lambda i, k, s=1, p=0, d=1, output_padding=0:
        i * s - 2 * p + d * (k - 1) + output_padding + 1, "s*i'"),
    (q3, lambda i, k, s=1, p=0, d=1: (i - d * (k - 1) - 1) % s, "padding ignored"),
    (q3, lambda i, k, s=1, p=0, d=1: (i + 2 * p - k) % s, "dilation forgotten"),
    (q3, lambda i, k, s=1, p=0, d=1: 0, "always 0"),
])
def test_mistakes_are_diagnosed(task, fn, name):
    result = task.run(fn)
    assert result.status == "failed" and name in (result.diagnosis or ""), result.message


def test_solutions_pass_and_stubs_are_not_attempted():
    for task, ref in ((q1, conv_size_reference), (q2, transpose_size_reference),
                      (q3, output_padding_reference)):
        assert task.run(ref).status == "passed"

        def stub(*args, **kwargs):
            raise NotImplementedError("your code here")

        assert task.run(stub).status == "not attempted"
    # a float answer is explained, not crashed on
    result = q1.run(lambda i, k, s=1, p=0, d=1: (i + 2 * p - d * (k - 1) - 1) / s + 1)
    assert result.status == "failed" and "//" in result.message
