"""Each task answers what differs between kinds of model; nothing else branches on its name."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import georaster_dl
from georaster_dl.errors import LabelError, UserInputError
from georaster_dl.tasks import TASKS, get_task


@pytest.mark.parametrize("name", TASKS)
def test_every_task_declares_what_the_pipeline_asks(name):
    task = get_task(name)
    assert task.name == name and task.losses and task.output_activation
    assert set(task.headline) == set(task.report_columns) == {"cv", "evaluation"}
    assert task.headline["cv"] in task.report_columns["cv"]
    assert task.baselines()[1] == "random_forest" and task.output_bands


def test_labels_become_targets_by_task():
    codes = np.array(["ridge", "valley", "ridge"], dtype=object)
    y, classes = get_task("landform").targets(codes, 3, "field 'kind'")
    assert y.tolist() == [0, 1, 0] and [c["name"] for c in classes] == ["ridge", "valley"]
    assert get_task("prospectivity").targets(None, 4, "the labels")[0].tolist() == [1, 1, 1, 1]
    with pytest.raises(LabelError, match="must hold 1 \\(presence\\) or 0"):
        get_task("prospectivity").targets(np.array([2.0]), 1, "field 'x'")
    with pytest.raises(LabelError, match="needs a numeric target"):
        get_task("regression").targets(None, 3, "the labels")


def test_an_unknown_task_is_one_clear_error():
    with pytest.raises(UserInputError, match="unknown task 'landforms'.*valid"):
        get_task("landforms")


def test_no_module_outside_tasks_branches_on_a_task_name():
    package = Path(georaster_dl.__file__).parent
    pattern = re.compile(r"task\s*(==|!=)\s*[\"'](landform|prospectivity|regression)[\"']"
                         r"|[\"'](landform|prospectivity|regression)[\"']\s*(==|!=)\s*\S*task")
    found = [f"{p.relative_to(package)}:{i}" for p in package.rglob("*.py") if "tasks" not in p.parts
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, found
