"""The kinds of model georaster_dl trains, one :class:`Task` per module.

Training, evaluation, prediction outputs and the report ask a task what differs (its
losses and output layer, how labels become targets, its output bands and words) instead
of branching on its name. Adding a task is one new module here, listed in :data:`TASKS`.

Examples
--------
>>> get_task("prospectivity").losses[0]
'binary_crossentropy'
"""

from __future__ import annotations

from georaster_dl.errors import UserInputError, one_of
from georaster_dl.tasks.base import Task
from georaster_dl.tasks.landform import Landform
from georaster_dl.tasks.prospectivity import Prospectivity
from georaster_dl.tasks.regression import Regression

_REGISTRY: dict[str, Task] = {t.name: t for t in (Landform(), Prospectivity(), Regression())}
#: Task names, in the order the CLI and the plugin offer them.
TASKS: tuple[str, ...] = tuple(_REGISTRY)


def get_task(name: str) -> Task:
    """The :class:`Task` called ``name``.

    Raises
    ------
    UserInputError
        An unknown name.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UserInputError(f"unknown task {name!r}; valid: {one_of(TASKS)}") from None


__all__ = ["TASKS", "Task", "get_task"]
