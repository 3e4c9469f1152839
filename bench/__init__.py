"""Benchmarks for yswd (issue 8): each one measures its baseline in the same run.

Run ``python -m bench [--quick] [B1 B3 ...]`` from the project root. See README.md.
"""
