"""Customizer configs and targets. The sandbox starts with configs for a few targets, named like a real 25.12
install (`meta/llama-3.2-1b-instruct@v1.0.0+80GB`), so clients have to discover them rather than guess."""

from __future__ import annotations

from typing import Any

from flywheel_cli.sandbox.api import Request, Response, Route, conflict, lookup, not_found, paginate
from flywheel_cli.sandbox.clock import Timeline
from flywheel_cli.sandbox.store import Key, State, new_id, split_ref
from flywheel_cli.sandbox.validation import Checker, check_common

TRAINING_TYPES = ("sft", "distillation", "dpo", "grpo")
FINETUNING_TYPES = ("lora", "lora_merged", "all_weights")
PRECISIONS = ("int8", "bf16", "fp16", "fp32", "fp8-mixed", "bf16-mixed")
CONFIG_SUFFIX = "@v1.0.0+80GB"
TARGET_DOWNLOAD_S = 120.0

_SEEDED_TARGETS = (
    ("meta", "llama-3.2-1b-instruct@2.0", "meta/llama-3.2-1b-instruct", 1_240_000_000),
    ("meta", "llama-3.2-3b-instruct@2.0", "meta/llama-3.2-3b-instruct", 3_210_000_000),
    ("meta", "llama-3.1-8b-instruct@2.0", "meta/llama-3.1-8b-instruct", 8_030_000_000),
    ("nvidia", "nemotron-nano-llama-3.1-8b@1.0", "nvidia/nemotron-nano-llama-3.1-8b", 8_030_000_000),
)


def _option(training_type: str, finetuning_type: str, gpus: int) -> dict[str, Any]:
    return {
        "training_type": training_type,
        "finetuning_type": finetuning_type,
        "num_gpus": gpus,
        "num_nodes": 1,
        "tensor_parallel_size": 1,
        "data_parallel_size": gpus,
        "use_sequence_parallel": False,
        "micro_batch_size": 1,
    }


def seed(state: State) -> None:
    now = state.clock.now()
    for namespace, name, base_model, params in _SEEDED_TARGETS:
        short = base_model.split("/", 1)[1]
        state.cust_targets[(namespace, name)] = state.stamp(
            {
                "id": new_id("cust-target"),
                "name": name,
                "namespace": namespace,
                "base_model": base_model,
                "enabled": True,
                "model_path": short.replace(".", "_") + "_" + name.rsplit("@", 1)[1].replace(".", "_"),
                "model_uri": f"ngc://nvidia/nemo/{short.replace('.', '_')}:{name.rsplit('@', 1)[1]}",
                "num_parameters": params,
                "precision": "bf16-mixed",
                "custom_fields": {},
                "_ready_at": now,
            }
        )
        gpus = 1 if params < 5e9 else 2
        state.cust_configs[(namespace, short + CONFIG_SUFFIX)] = state.stamp(
            {
                "id": new_id("customization-config"),
                "name": short + CONFIG_SUFFIX,
                "namespace": namespace,
                "target": f"{namespace}/{name}",
                "training_options": [_option("sft", "lora", gpus), _option("sft", "all_weights", gpus * 4)],
                "training_precision": "bf16-mixed",
                "max_seq_length": 4096,
                "prompt_template": "{prompt} {completion}",
                "chat_prompt_template": None,
                "dataset_schemas": [],
                "custom_fields": {},
                "description": f"LoRA and full SFT of {base_model}",
            }
        )


# --- targets ------------------------------------------------------------------------------------------------------


def target_view(state: State, doc: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in doc.items() if not k.startswith("_")}
    sim = max(0.0, (state.clock.now() - doc["_ready_at"]) * state.clock.speed + TARGET_DOWNLOAD_S)
    view["status"] = (
        Timeline([("created", 5.0), ("downloading", TARGET_DOWNLOAD_S - 5.0), ("ready", None)]).at(sim).status
    )
    return view


def target_by_ref(state: State, ref: str) -> dict[str, Any] | None:
    key = split_ref(ref)
    return state.cust_targets.get(key) if key else None


def create_target(state: State, req: Request) -> Response:
    body = req.json_object()
    c = Checker()
    check_common(c, body)
    name = c.string(body, "name", ("body", "name"), required=True)
    c.integer(body, "num_parameters", ("body", "num_parameters"), required=True, minimum=1)
    c.enum(body, "precision", ("body", "precision"), PRECISIONS, required=True)
    c.string(body, "base_model", ("body", "base_model"))
    c.boolean(body, "enabled", ("body", "enabled"))
    c.done()
    namespace = body.get("namespace") or "default"
    assert name is not None
    with state.lock:
        if (namespace, name) in state.cust_targets:
            raise conflict(f"Target '{namespace}/{name}'")
        doc = dict(body, id=new_id("cust-target"), namespace=namespace)
        doc.setdefault("base_model", f"{namespace}/{name.split('@', 1)[0]}")
        doc.setdefault("enabled", True)
        doc.setdefault("custom_fields", {})
        # A new target downloads its checkpoint before it is ready.
        doc["_ready_at"] = state.clock.real_at(state.clock.now(), TARGET_DOWNLOAD_S)
        state.cust_targets[(namespace, name)] = state.stamp(doc)
        return Response(200, target_view(state, doc), created=("customization_target", doc["id"]))


def list_targets(state: State, req: Request) -> Response:
    with state.lock:
        items = [target_view(state, d) for d in state.cust_targets.values()]
    return Response(200, paginate(items, req))


def _target(state: State, req: Request) -> dict[str, Any]:
    key = (req.params["ns"], req.params["name"])
    return lookup(state.cust_targets, key, f"Target '{key[0]}/{key[1]}'")


def get_target(state: State, req: Request) -> Response:
    with state.lock:
        return Response(200, target_view(state, _target(state, req)))


def delete_target(state: State, req: Request) -> Response:
    with state.lock:
        doc = _target(state, req)
        del state.cust_targets[(doc["namespace"], doc["name"])]
    return Response(200, state.deleted(doc["id"]))


# --- configs ------------------------------------------------------------------------------------------------------


def config_view(state: State, doc: dict[str, Any]) -> dict[str, Any]:
    view = dict(doc)
    target = target_by_ref(state, doc["target"]) if isinstance(doc.get("target"), str) else None
    if target is not None:
        view["target"] = target_view(state, target)
    return view


def config_base_model(state: State, doc: dict[str, Any]) -> str | None:
    target = config_view(state, doc).get("target")
    return target.get("base_model") if isinstance(target, dict) else None


def config_by_ref(state: State, ref: str) -> dict[str, Any] | None:
    key = split_ref(ref)
    return state.cust_configs.get(key) if key else None


def check_training_options(c: Checker, options: list[Any], loc: tuple[Any, ...]) -> None:
    for i, option in enumerate(options):
        if not isinstance(option, dict):
            c.fail("dict_type", (*loc, i), "Input should be a valid dictionary", option)
            continue
        c.enum(option, "training_type", (*loc, i, "training_type"), TRAINING_TYPES, required=True)
        c.enum(option, "finetuning_type", (*loc, i, "finetuning_type"), FINETUNING_TYPES, required=True)
        c.integer(option, "num_gpus", (*loc, i, "num_gpus"), required=True, minimum=1)
        c.integer(option, "micro_batch_size", (*loc, i, "micro_batch_size"), required=True, minimum=1)


def create_config(state: State, req: Request) -> Response:
    body = req.json_object()
    c = Checker()
    check_common(c, body)
    c.integer(body, "max_seq_length", ("body", "max_seq_length"), required=True, minimum=1)
    options = c.listing(body, "training_options", ("body", "training_options"), required=True)
    if options is not None:
        check_training_options(c, options, ("body", "training_options"))
    target = c.str_or_mapping(body, "target", ("body", "target"))
    c.enum(body, "training_precision", ("body", "training_precision"), PRECISIONS)
    c.done()
    namespace = body.get("namespace") or "default"
    with state.lock:
        doc = dict(body, id=new_id("customization-config"), namespace=namespace)
        doc.setdefault("name", doc["id"])
        key: Key = (namespace, doc["name"])
        if key in state.cust_configs:
            raise conflict(f"Customization config '{namespace}/{doc['name']}'")
        if isinstance(target, str) and target_by_ref(state, target) is None:
            raise not_found(f"Target '{target}'")
        doc.setdefault("custom_fields", {})
        state.cust_configs[key] = state.stamp(doc)
        return Response(200, config_view(state, doc), created=("customization_config", doc["id"]))


def _options_field(field: str) -> Any:
    return lambda d: [o.get(field) for o in d.get("training_options") or [] if isinstance(o, dict)]


def list_configs(state: State, req: Request) -> Response:
    def target_field(field: str) -> Any:
        return lambda d: (d.get("target") or {}).get(field) if isinstance(d.get("target"), dict) else None

    getters = {
        "target_base_model": target_field("base_model"),
        "target_enabled": target_field("enabled"),
        "target_name": lambda d: [target_field("name")(d), f"{target_field('namespace')(d)}/{target_field('name')(d)}"],
        "training_type": _options_field("training_type"),
        "finetuning_type": _options_field("finetuning_type"),
    }
    with state.lock:
        items = [config_view(state, d) for d in state.cust_configs.values()]
    return Response(200, paginate(items, req, getters))


def _config(state: State, req: Request) -> dict[str, Any]:
    key = (req.params["ns"], req.params["name"])
    return lookup(state.cust_configs, key, f"Customization config '{key[0]}/{key[1]}'")


def get_config(state: State, req: Request) -> Response:
    with state.lock:
        return Response(200, config_view(state, _config(state, req)))


def delete_config(state: State, req: Request) -> Response:
    with state.lock:
        doc = _config(state, req)
        del state.cust_configs[(doc["namespace"], doc["name"])]
    return Response(200, state.deleted(doc["id"]))


ROUTES: list[Route] = [
    ("GET", "/v1/customization/configs", list_configs),
    ("POST", "/v1/customization/configs", create_config),
    ("GET", "/v1/customization/configs/{ns}/{name}", get_config),
    ("DELETE", "/v1/customization/configs/{ns}/{name}", delete_config),
    ("GET", "/v1/customization/targets", list_targets),
    ("POST", "/v1/customization/targets", create_target),
    ("GET", "/v1/customization/targets/{ns}/{name}", get_target),
    ("DELETE", "/v1/customization/targets/{ns}/{name}", delete_target),
]
