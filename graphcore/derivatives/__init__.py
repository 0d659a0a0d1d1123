"""Derivatives: the reverse and forward sweeps (autodiff), the one Jacobian API (api), path sums
(paths) and the derivative lab's questions (lab).
"""
