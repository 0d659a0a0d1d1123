"""Backprop Studio's desktop app: Qt views over graphcore's model. Nothing imports app."""
