"""A JupyterHub classroom on this machine with nbgrader's exchange (`make classroom`); see layout.py for the folders."""
