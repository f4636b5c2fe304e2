"""``leakbench workers``: run a suite at several ``-n`` levels and choose one."""
