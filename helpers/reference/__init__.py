"""The notebooks' own reference answers, for the student copies (docs/exercises.md). A student copy
imports them in place of the teacher's ``student-import`` cell: the answer is not shown below its
exercise and later cells still run; the tests keep both equal."""
