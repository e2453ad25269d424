"""pytest set-up shared by the tests and the docstring examples of the package
(``--doctest-modules`` imports every module of ``cfasim``)."""

import importlib.util

collect_ignore = ["cfasim/cli/__main__.py"]  # importing it runs the command line
if importlib.util.find_spec("torch") is None:  # the train layer needs the train extra
    collect_ignore += ["cfasim/train", "cfasim/cli/train.py"]
