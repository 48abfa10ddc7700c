"""Grading student submissions, isolated and tamper-proof.

    from modelcheck.grading import Grader, load_assignment, discover_submissions
    with Grader(load_assignment("fashion.toml"), workers=2) as grader:
        grades = grader.grade_all(discover_submissions("submissions/"))

Where a grade is decided: each submission's code runs only in a confined *build* process
(own process group, own copy of its files, rlimits, wall-clock and memory watch by the grader,
Landlock / own uid where available, capped output) that exports its model as ``.keras``; a
separate *check* process that never imports the student's code loads that file in Keras' safe
mode and runs the checks. Both are forked from a warm zygote that imported TensorFlow once.

Importing this package does not import Keras or TensorFlow.
"""

from __future__ import annotations

from .assignment import Assignment, load_assignment, parse_assignment
from .grade import Grader, StudentGrade, grade_submission
from .outputs import write_outputs
from .submissions import Submission, discover_submissions

__all__ = [
    "Assignment",
    "Grader",
    "StudentGrade",
    "Submission",
    "discover_submissions",
    "grade_submission",
    "load_assignment",
    "parse_assignment",
    "write_outputs",
]
