"""The notebooks' own reference answers, for the student copies (notebooks 01, 02 and 03).

In a teacher's notebook, a cell after an exercise often repeats its answer: the notebook's own
version, which the later cells use (02's ``output_size`` is ``my_output_size``'s answer). A student
copy must not show it two cells below the exercise, yet its later cells still need it. So that cell
carries the tag ``student-import`` and, in its metadata, ``student_source``: one line that imports the
same function from here. ``tools/notebooks.py student`` puts that line in place of the cell; the
teacher's copy keeps the code visible. ``tests/test_architecture.py`` holds each function here equal
(by ``ast``) to the teacher's cell, so the two never drift; docs/exercises.md has the convention.
"""
