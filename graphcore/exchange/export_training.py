"""The training half of `graphcore export --train`: data, optimizer, schedule and loop as plain Python.

Every piece comes from the code the app trains with, so the numbers agree: the dataset generator
and `split` are the text of graphcore.training.datasets, the optimizer and schedule are the expressions
the Trainer evaluates (graphcore.training.code), and the loop does what `Trainer.step` and
`Trainer.run` do, in the same order (tests/export compares the losses step by step). Under
torchrun the loop runs DistributedDataParallel instead, each process taking its share of every batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template
from typing import Any

from graphcore.codegen import GeneratedModule, exec_source, format_expression
from graphcore.exchange.export_data import ExportError, data_code, source_text
from graphcore.program import Program
from graphcore.training.code import literal, optimizer_code, schedule_code
from graphcore.training.config import TrainingConfig, TrainingConfigError
from graphcore.training.evaluation import accuracy
from graphcore.training.objectives import Blocks, check_parameters, selected
from graphcore.training.performance import AUTOCAST_TYPES, autocast

STDLIB_IMPORTS = [
    "import argparse",
    "import contextlib",
    "import math",
    "import os",
    "from typing import Any",
]
FILE_IMPORTS = ["from collections.abc import Mapping", "from pathlib import Path"]  # to read a dataset file
THIRD_PARTY_IMPORTS = [
    "import numpy as np",
    "import torch",
    "import torch.distributed as dist",
    "from torch.nn.parallel import DistributedDataParallel",
    "from torch.utils.data.distributed import DistributedSampler",
]


def function_code(signature: str, doc: str, expression: str | None) -> str:
    """A one-expression function (or one that returns None), split over lines as ruff format would."""
    body = format_expression(expression, "    return ") if expression else []
    return "\n".join([f"def {signature}:", f'    """{doc}"""', *body])


LOOP = Template('''
def start_distributed(device):
    """Under torchrun with several processes, join their group; a plain run is process 0 of 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return device, 0, 1
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device, dist.get_rank(), world


def to_tensors(fields, device, dtype):
    """The dataset fields the forward arguments read: floats in dtype, integer labels as is."""
    tensors = {}
    for name, field in FIELDS.items():
        kind = None if fields[field].dtype.kind == "i" else dtype
        tensors[name] = torch.as_tensor(fields[field]).to(device, dtype=kind)
    return tensors


$accuracy


$autocast


def check_precision(precision, device, dtype):
    """As `graphcore train` refuses: fp16 off CUDA, autocast over float64 weights."""
    if precision == "fp16" and device.type != "cuda":
        raise SystemExit(
            f"error: precision fp16 needs a CUDA device, not {device.type}"
        )
    if precision != "fp32" and dtype != torch.float32:
        raise SystemExit(
            f"error: precision {precision} casts float32 weights, not {dtype}"
        )


def grad_scaler(precision, device):
    """fp16 scales the loss, so that its small range does not underflow the gradients."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


$evaluate


def batches(n, batch_size, generator, sampler, epoch, device):
    """One epoch's batches of sample indices: a seeded permutation, or this process's share."""
    if sampler is None:
        order = torch.randperm(n, generator=generator)
    else:
        sampler.set_epoch(epoch)
        order = torch.tensor(list(sampler))
    return order.to(device).split(batch_size)


def global_mean(loss, world):
    """The batch loss; under DDP the mean over the processes, whose batches make one batch."""
    value = loss.detach().clone()
    if world > 1:
        dist.all_reduce(value)
        value /= world
    return value.item()


def show(metrics, prefix=""):
    return "".join(f" {prefix}{name} {value:.4g}" for name, value in metrics.items())


def train(args):
    """Train as `graphcore train` does: the same data, weights, batches and updates."""
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device, rank, world = start_distributed(torch.device(device))
    dtype = getattr(torch, args.dtype)
    precision = args.precision
    check_precision(precision, device, dtype)
    fields = $load_data
    train_fields, validation_fields = split(fields, VALIDATION, args.seed)
    train_data = to_tensors(train_fields, device, dtype)
    validation_data = to_tensors(validation_fields, device, dtype) if VALIDATION else {}
    inputs = example_inputs(dtype, seed=args.seed)  # for inputs no dataset field feeds
    fixed = {k: v.to(device) for k, v in inputs.items() if k not in FIELDS}
    n = len(next(iter(train_data.values())))
    sampler = None
    if world > 1:
        sampler = DistributedSampler(range(n), world, rank, seed=args.seed)
    # BATCH_SIZE is the batch of all the processes together
    batch_size = math.ceil(BATCH_SIZE / world)
    steps_per_epoch = math.ceil((len(sampler) if sampler else n) / batch_size)
    epochs, steps = EPOCHS, STEPS
    if args.epochs is not None:  # as in `graphcore train --epochs`, the epochs decide
        epochs, steps = args.epochs, None
    if args.steps is not None:
        steps = args.steps
    total_steps = steps or steps_per_epoch * (epochs or 1)

    model = $class_name(dtype=dtype, seed=args.seed).to(device)$load_weights
    network = model
    if world > 1:
        device_ids = [device.index] if device.type == "cuda" else None
        network = $ddp_call
    if args.compile:
        from torch._inductor import config as inductor

        # random nodes draw what they draw uncompiled, as in graphcore train
        inductor.fallback_random = True
        network = torch.compile(network)
    $optimizers
    generator = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed + rank)

    max_norm = CLIP_GRAD_NORM or math.inf
    step, epoch, stopped = 0, 0, "finished"
    best, patience = math.inf, (EARLY_STOPPING or {}).get("patience", 10)
    while stopped == "finished" and step < total_steps:
        order = batches(n, batch_size, generator, sampler, epoch, device)
        for number, index in enumerate(order, 1):
            network.train()
            batch = {name: value[index] for name, value in train_data.items()}
            $train_step
            step += 1
            if number == len(order):  # the end of an epoch
                validation = evaluate(model, validation_data, fixed, precision)
                if rank == 0:
                    metrics = show(validation, "val_")
                    print(f"epoch {epoch} step {step} loss {value:.9g}{metrics}")
                if EARLY_STOPPING:
                    monitored = validation.get("loss", value)
                    if monitored < best - EARLY_STOPPING.get("min_delta", 0.0):
                        best, patience = monitored, EARLY_STOPPING.get("patience", 10)
                    else:
                        patience -= 1
                        if patience <= 0:
                            stopped = "early_stopping"
                if world > 1:  # every process follows process 0's decision
                    decision = [stopped]
                    dist.broadcast_object_list(decision, src=0)
                    stopped = decision[0]
            if stopped != "finished" or step >= total_steps:
                break
        epoch += 1

    if rank == 0:
        print(f"{stopped} after {step} optimizer steps")
        print(f"train:{show(evaluate(model, train_data, fixed, precision))}")
        if validation_data:
            metrics = evaluate(model, validation_data, fixed, precision)
            print(f"validation:{show(metrics)}")
        if args.save:
            torch.save(model.state_dict(), args.save)
    if world > 1:
        dist.barrier()  # process 0 may still be evaluating: leave the group together
        dist.destroy_process_group()
    return 1 if stopped == "nonfinite" else 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train $class_name as its graph's training section says."
    )
    parser.add_argument("--steps", type=int, help="train for this many optimizer steps")
    parser.add_argument("--epochs", type=int, help="train for this many epochs")
    parser.add_argument(
        "--seed", type=int, default=SEED, help="seed of the weights, data and batches"
    )
    parser.add_argument(
        "--device", default=DEVICE, help="cpu, cuda or cuda:N; auto picks cuda if any"
    )
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16"),
        default=PRECISION,
        help="autocast the forward passes to bf16 or fp16 (CUDA only)",
    )
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=COMPILE,
        help="run the network through torch.compile",
    )
    parser.add_argument(
        "--log-every", type=int, default=1, help="print the loss of every Nth step"
    )
    parser.add_argument(
        "--save", help="write the trained weights (a state_dict) to this file"
    )$data_option$weights_option
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(train(parse_args()))
''')

# One loss: evaluate, the optimizer and one step as `Trainer` does them for a single-loss section.
EVALUATE_ONE = Template('''@torch.no_grad()
def evaluate(model, data, fixed, precision):
    """Mean loss (and accuracy) over a whole split, in eval mode, batch by batch."""
    if not data:
        return {}
    model.eval()
    device = next(iter(data.values())).device
    n = len(next(iter(data.values())))
    total, correct = 0.0, 0.0
    for start in range(0, n, BATCH_SIZE):
        batch = {k: v[start : start + BATCH_SIZE] for k, v in data.items()}
        with autocast(precision, device):
            $evaluate_forward
        count = len(next(iter(batch.values())))
        total += loss.item() * count
        correct += (accuracy(prediction, batch[TARGET], THRESHOLD) or 0.0) * count
    model.train()
    $metrics''')
OPTIMIZER_ONE = """optimizer = make_optimizer(model.parameters())
    scheduler = make_scheduler(optimizer, total_steps)
    scaler = grad_scaler(precision, device)"""
STEP_ONE = Template("""optimizer.zero_grad(set_to_none=True)
            with autocast(precision, device):
                $train_forward
            (loss if scaler is None else scaler.scale(loss)).backward()
            if scaler is not None:
                scaler.unscale_(optimizer)
            norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            value = global_mean(loss, world)
            # under fp16 an overflowing gradient is the scaler's to handle (it skips the step)
            grads_ok = scaler is not None or bool(torch.isfinite(norm))
            finite = math.isfinite(value) and grads_ok
            if rank == 0 and (not finite or (step + 1) % args.log_every == 0):
                print(f"step {step + 1} loss {value:.9g}", flush=True)
            if not finite:
                stopped = "nonfinite"
                break
            if scaler is None:
                optimizer.step()
            else:
                scaler.step(optimizer)
                scaler.update()
            if scheduler is not None:
                scheduler.step()""")

# Several objectives: each due one takes its own pass, in order, as `Trainer.step` does.
EVALUATE_SEVERAL = '''@torch.no_grad()
def evaluate(model, data, fixed, precision):
    """Each objective's mean loss (and accuracy) over a whole split, in eval mode, batch by batch."""
    if not data:
        return {}
    model.eval()
    device = next(iter(data.values())).device
    n = len(next(iter(data.values())))
    totals, correct = [0.0] * len(OBJECTIVES), 0.0
    for start in range(0, n, BATCH_SIZE):
        batch = {k: v[start : start + BATCH_SIZE] for k, v in data.items()}
        with autocast(precision, device):
            outputs = outputs_of(model(**fixed, **batch))
        count = len(next(iter(batch.values())))
        for index, objective in enumerate(OBJECTIVES):
            totals[index] += outputs[objective["output"]].item() * count
        prediction = None if PREDICTION is None else outputs[PREDICTION]
        correct += (accuracy(prediction, batch[TARGET], THRESHOLD) or 0.0) * count
    model.train()
    metrics = {f"{o['name']} loss": total / n for o, total in zip(OBJECTIVES, totals)}
    if PREDICTION is not None:
        metrics["accuracy"] = correct / n
    return metrics


def outputs_of(returned):
    """The model's outputs as a tuple (a model with one output returns it alone)."""
    return returned if isinstance(returned, tuple) else (returned,)'''
DDP_FINDING_UNUSED = """DistributedDataParallel(
            model, device_ids=device_ids, find_unused_parameters=True
        )"""
OPTIMIZER_SEVERAL = """named = list(model.named_parameters())
    groups = [[p for name, p in named if name in o["parameters"]] for o in OBJECTIVES]
    optimizers = make_optimizers(groups)
    schedulers = make_schedulers(optimizers, total_steps)
    scalers = [grad_scaler(precision, device) for _ in OBJECTIVES]"""
STEP_SEVERAL = """values, finite = {}, True
            for objective, parameters, optimizer, scheduler, scaler in zip(
                OBJECTIVES, groups, optimizers, schedulers, scalers
            ):
                # due on the first step and every k-th after it
                if step % objective["every"]:
                    continue
                model.zero_grad(set_to_none=True)
                with autocast(precision, device):
                    loss = outputs_of(network(**fixed, **batch))[objective["output"]]
                (loss if scaler is None else scaler.scale(loss)).backward()
                if scaler is not None:
                    scaler.unscale_(optimizer)
                norm = nn.utils.clip_grad_norm_(parameters, max_norm)
                value = values[objective["name"]] = global_mean(loss, world)
                # under fp16 an overflowing gradient is the scaler's to handle
                grads_ok = scaler is not None or bool(torch.isfinite(norm))
                finite = math.isfinite(value) and grads_ok
                if not finite:
                    break
                if scaler is None:
                    optimizer.step()
                else:
                    scaler.step(optimizer)
                    scaler.update()
                if scheduler is not None:
                    scheduler.step()
            value = values[OBJECTIVES[0]["name"]]
            if rank == 0 and (not finite or (step + 1) % args.log_every == 0):
                losses = ", ".join(f"{name} loss {v:.9g}" for name, v in values.items())
                print(f"step {step + 1} {losses}", flush=True)
            if not finite:
                stopped = "nonfinite"
                break"""


def objectives_code(
    config: TrainingConfig, outputs: Sequence[str], weights: Mapping[str, list[str]], blocks: Blocks
) -> tuple[list[str], str]:
    """The OBJECTIVES and PREDICTION constants, and make_optimizers and make_schedulers, of a section with
    several objectives: each objective's output index, update rule and parameter names."""
    table = []
    for objective in config.objectives:
        chosen = selected(objective, weights, blocks)
        names = [n for node in weights for n in weights[node] if chosen is None or n in chosen]
        table.append(
            {
                "name": objective.name,
                "output": outputs.index(objective.loss),
                "every": objective.every,
                "parameters": names,
            }
        )
    prediction = outputs.index(config.predict) if config.predict else None
    constants = format_expression(literal(table), "OBJECTIVES = ", "  # in order: each due one takes a step")
    constants += format_expression(
        literal(prediction), "PREDICTION = ", "  # the index of the prediction output"
    )
    optimizers = (
        "["
        + ", ".join(optimizer_code(o.optimizer, f"groups[{i}]") for i, o in enumerate(config.objectives))
        + "]"
    )
    schedulers = (
        "["
        + ", ".join(
            schedule_code(o.schedule, f"optimizers[{i}]") or "None" for i, o in enumerate(config.objectives)
        )
        + "]"
    )
    functions = [
        function_code(
            "make_optimizers(groups)", "Each objective's optimizer, over its group of parameters.", optimizers
        ),
        function_code(
            "make_schedulers(optimizers, total_steps)",
            "Each objective's learning-rate schedule (None: constant).",
            schedulers,
        ),
    ]
    return constants, "\n\n\n".join(functions)


def training_code(
    config: TrainingConfig,
    program: Program,
    generated: GeneratedModule,
    base_dir: Path,
    resume: bool = False,
    blocks: Blocks | None = None,
) -> tuple[list[str], list[str], str]:
    """(standard-library imports, other imports, source) of everything `--train` adds after the model;
    with `resume`, training starts from the graph's weights file (WEIGHTS, or `--weights PATH`);
    `blocks` (blocks.instance_paths) lets a group name a block definition."""
    data, reads_file, data_imports = data_code(config.dataset, base_dir)
    argument = dict(zip(generated.inputs, generated.arguments))
    for node in config.inputs:
        if node not in argument:
            raise ExportError(f"training.inputs.{node}: there is no Input node {node!r}")
    fields = {argument[node]: field for node, field in config.inputs.items()}
    target = {field: argument[node] for node, field in config.inputs.items()}
    settings = [
        ("SEED", config.seed, ""),
        ("STEPS", config.steps, ""),
        ("EPOCHS", config.epochs, ""),
        ("BATCH_SIZE", config.batch_size, ""),
        ("VALIDATION", config.validation, "the fraction of the data held out"),
        ("CLIP_GRAD_NORM", config.clip_grad_norm, ""),
        ("EARLY_STOPPING", config.early_stopping, ""),
        ("THRESHOLD", config.threshold, "one output above it predicts class 1"),
        ("DEVICE", config.device, ""),
        ("PRECISION", config.precision, "autocast of the forward passes: fp32 (none), bf16 or fp16"),
        ("COMPILE", config.compile, "run the network through torch.compile"),
        ("AUTOCAST_TYPES", AUTOCAST_TYPES, ""),
        ("FIELDS", fields, "forward argument -> dataset field"),
        ("TARGET", target.get("y", list(fields)[-1]), "the argument predictions are scored against"),
    ]
    constants = []
    for name, value, comment in settings:
        lines = format_expression(literal(value), f"{name} = ", f"  # {comment}" if comment else "")
        constants += lines
    # one objective over some of the weights optimises those alone, as several objectives do
    if len(config.objectives) > 1 or config.objectives[0].parameters is not None:
        weights = _weights(config, program, generated, blocks or {})
        more, functions = objectives_code(config, check_outputs(config, program), weights, blocks or {})
        constants += more
        pieces = {
            "evaluate": EVALUATE_SEVERAL,
            "optimizers": OPTIMIZER_SEVERAL,
            "train_step": STEP_SEVERAL,
            # an objective's pass leaves the others' weights out of its graph
            "ddp_call": DDP_FINDING_UNUSED,
        }
    else:
        functions, pieces = _one_loss_code(config)
    loop = LOOP.substitute(
        accuracy=source_text(accuracy),
        autocast=source_text(autocast),
        **pieces,
        load_data="load_data(args.seed, args.data)" if reads_file else "load_data(args.seed)",
        class_name=generated.class_name,
        data_option='\n    parser.add_argument("--data", default=DATA_PATH, help="the dataset file")'
        if reads_file
        else "",
        **resume_code(resume),
    )
    paths = ["from pathlib import Path"] if resume else []  # the weights file beside the script
    stdlib = [*STDLIB_IMPORTS, *(FILE_IMPORTS if reads_file else paths), *data_imports]
    text = "\n\n\n".join(
        [
            "# Data: the dataset functions of graphcore.training.datasets.\n\n" + data,
            "# Training: the graph's training section.\n\n" + "\n".join(constants),
            functions,
        ]
    )
    return (
        stdlib,
        THIRD_PARTY_IMPORTS + (["import safetensors.torch"] if resume else []),
        text + "\n\n" + loop,
    )


def section_code(section: Mapping[str, object]) -> str:
    """TRAINING: the graph's training section as written, which `graphcore import-torch` reads back
    (its node names follow the imported graph's: FIELDS' arguments, forward's returns)."""
    lines = format_expression(literal(dict(section)), "TRAINING = ", "")
    return "# The graph's training section, which import-torch reads back.\n" + "\n".join(lines)


def resume_code(resume: bool) -> dict[str, str]:
    """The loop's lines that start from the weights file beside the script, as `graphcore train`
    starts from the graph's; `--weights ""` starts from the seed instead."""
    if not resume:
        return {"load_weights": "", "weights_option": ""}
    return {
        "load_weights": "\n    if args.weights:\n"
        "        state = safetensors.torch.load_file(args.weights, device=str(device))\n"
        "        model.load_state_dict(state)",
        "weights_option": "\n    parser.add_argument(\n"
        '        "--weights",\n'
        "        default=str(Path(__file__).with_name(WEIGHTS)),\n"
        "        help=\"start from this safetensors file ('': from the seed)\",\n"
        "    )",
    }


def _one_loss_code(config: TrainingConfig) -> tuple[str, dict[str, str]]:
    """make_optimizer and make_scheduler, and the loop's pieces, of a single-loss section."""
    optimizer = function_code(
        "make_optimizer(parameters)", "The training section's optimizer.", optimizer_code(config.optimizer)
    )
    schedule = schedule_code(config.schedule)
    scheduler = function_code(
        "make_scheduler(optimizer, total_steps)",
        "The learning-rate schedule, stepped once per step." if schedule else "A constant learning rate.",
        schedule,
    )
    predicts = config.predict is not None
    forward = (
        "loss, _prediction = network(**fixed, **batch)" if predicts else "loss = network(**fixed, **batch)"
    )
    evaluate = EVALUATE_ONE.substitute(
        evaluate_forward="loss, prediction = model(**fixed, **batch)"
        if predicts
        else "loss, prediction = model(**fixed, **batch), None",
        metrics='return {"loss": total / n, "accuracy": correct / n}'
        if predicts
        else 'return {"loss": total / n}',
    )
    pieces = {
        "evaluate": evaluate,
        "optimizers": OPTIMIZER_ONE,
        "train_step": STEP_ONE.substitute(train_forward=forward),
        "ddp_call": "DistributedDataParallel(model, device_ids=device_ids)",
    }
    return optimizer + "\n\n\n" + scheduler, pieces


def _weights(
    config: TrainingConfig, program: Program, generated: GeneratedModule, blocks: Blocks
) -> dict[str, list[str]]:
    """Node id -> its parameters' names in the exported module (built once to read them)."""
    cls = exec_source(generated.source, generated.class_name)[generated.class_name]
    weights = _parameter_names(cls(), generated.attributes, [instr.node for instr in program])
    try:
        check_parameters(config.objectives, weights, blocks)
    except TrainingConfigError as error:
        raise ExportError(str(error)) from None
    return weights


def _parameter_names(module: Any, attributes: Mapping[str, str], nodes: list[str]) -> dict[str, list[str]]:
    """objectives.parameter_names for attributes that may be paths ("res1.0.fc", inside blocks):
    each parameter belongs to the node whose attribute is the longest start of its name."""
    owner = {attribute: node for node, attribute in attributes.items()}
    found: dict[str, list[str]] = {node: [] for node in nodes}
    for name, _ in module.named_parameters():
        parts = name.split(".")
        node = next(owner[p] for n in range(len(parts), 0, -1) if (p := ".".join(parts[:n])) in owner)
        found[node].append(name)
    return found


def check_outputs(config: TrainingConfig, program: Program) -> Sequence[str]:
    """The values the trained model returns: each objective's loss, then the prediction when there is one."""
    for objective in config.objectives:
        if objective.loss not in program.consumers:
            where = objective.key("loss")
            raise ExportError(f"training.{where}: there is no output {objective.loss!r} in the graph")
    if config.predict is not None and config.predict not in program.consumers:
        raise ExportError(f"training: there is no output {config.predict!r} in the graph")
    losses = [objective.loss for objective in config.objectives]
    return list(dict.fromkeys(losses + ([config.predict] if config.predict else [])))
