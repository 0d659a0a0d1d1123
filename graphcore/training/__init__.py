"""Training: the checked `training` section (config, checks), datasets, the optimizer and schedule
code (code), and the Trainer (train).
"""
