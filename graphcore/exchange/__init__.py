"""Exchange with plain PyTorch: export to Python, a training script or ONNX; import of torch modules
(importer, import_builder) by the rules the node types declare (torch_ops).
"""
