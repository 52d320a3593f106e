"""Coding-time stages on the engine's device: batched integer tensors, many blocks per step.

Each stage keeps one state per block (tables offset by the block's index), works on the
rows a step codes, and never leaves the device except for what the coder hands back. A
block method that runs here is one row of `recipes.RECIPES`.
"""
