"""Configuration: built-in defaults, then `configs/flywheel.toml`, then env `FLYWHEEL_<SECTION>__<KEY>`, then flags.

Secrets are never configuration values. The config names the *environment variable* that holds each secret
(`api_key_env = "LLM_JUDGE_API_KEY"`), and the value is read from the environment at the moment it is needed, so
it cannot end up in the state file, a report or `config show`.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from flywheel_cli.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("configs/flywheel.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class NmpConfig(_Section):
    nemo_url: str = "http://nemo.test"
    datastore_url: str = "http://data-store.test"
    nim_url: str = "http://nim.test"
    namespace: str = "flywheel"
    project: str = "flywheel"
    # Names of env vars holding optional bearer tokens, one per host (ingress auth); unset → no header.
    nemo_token_env: str = "NMP_TOKEN"
    datastore_token_env: str = "HF_TOKEN"
    nim_token_env: str = "NIM_TOKEN"
    timeout_seconds: float = 30.0


class CustomizationConfig(_Section):
    enabled: bool = True
    # Customizer target, e.g. "meta/llama-3.2-1b-instruct@2.0". Used to find a config via GET /customization/configs.
    target: str | None = None
    # An explicit customization config name ("ns/name@version") wins over discovery.
    config: str | None = None
    gpus: int = 1
    num_nodes: int = 1
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    use_sequence_parallel: bool = False
    micro_batch_size: int = 1
    training_precision: str = "bf16-mixed"
    max_seq_length: int = 8192


class NimConfig(_Section):
    model_name: str
    image_name: str | None = None  # default: nvcr.io/nim/{model_name}
    tag: str = "1.8.3"
    gpus: int = 1
    pvc_size: str = "25Gi"
    context_length: int = 8192
    guided_decoding_backend: str | None = "outlines"
    customization: CustomizationConfig = Field(default_factory=CustomizationConfig)

    @property
    def image(self) -> str:
        return self.image_name or f"nvcr.io/nim/{self.model_name}"

    @property
    def deployment_name(self) -> str:
        # DMS names cannot hold '/'.
        return self.model_name.replace("/", "-")


class JudgeConfig(_Section):
    kind: Literal["remote", "local", "none"] = "none"
    # remote: full chat-completions URL of an OpenAI-compatible endpoint
    url: str | None = None
    model: str = "meta/llama-3.3-70b-instruct"
    api_key_env: str = "LLM_JUDGE_API_KEY"
    # local: deployed through DMS like a candidate NIM
    tag: str = "1.8.5"
    gpus: int = 4
    pvc_size: str = "25Gi"

    @model_validator(mode="after")
    def _remote_needs_url(self) -> JudgeConfig:
        if self.kind == "remote" and not self.url:
            raise ValueError("judge.kind = 'remote' needs judge.url (a full /v1/chat/completions URL)")
        return self

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None


class SplitConfig(_Section):
    eval_size: int = Field(100, ge=1)
    val_ratio: float = Field(0.1, ge=0.0, lt=1.0)
    min_total_records: int = Field(50, ge=1)
    limit: int = Field(1000, ge=1)
    seed: int = 42
    keep_no_tool: bool = False
    # NIM workaround from the reference: tools with more parameter properties are dropped. 0 turns it off.
    max_tool_properties: int = Field(8, ge=0)


class IclConfig(_Section):
    max_context_length: int = Field(32768, ge=1)
    reserved_tokens: int = Field(4096, ge=0)
    max_examples: int = Field(3, ge=0)
    selection: Literal["uniform", "semantic"] = "uniform"
    relevance_ratio: float = Field(0.7, ge=0.0, le=1.0)
    # OpenAI-compatible embeddings endpoint; default: {nmp.nim_url}/v1/embeddings
    embedding_url: str | None = None
    embedding_model: str = "nvidia/llama-3.2-nv-embedqa-1b-v2"
    embedding_api_key_env: str = "EMB_API_KEY"


class TrainingConfig(_Section):
    training_type: str = "sft"
    finetuning_type: str = "lora"
    epochs: int = Field(2, ge=1)
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(1e-4, gt=0)
    adapter_dim: int = Field(32, ge=1)
    adapter_dropout: float = Field(0.1, ge=0.0, le=1.0)
    alpha: int | None = None


class TimeoutConfig(_Section):
    poll_interval: float = Field(5.0, gt=0)
    max_poll_interval: float = Field(30.0, gt=0)
    deploy: float = Field(3600.0, gt=0)
    served: float = Field(3600.0, gt=0)
    # Stall timeout: restarts whenever progress moves.
    job_stall: float = Field(3600.0, gt=0)
    job_total: float = Field(6 * 3600.0, gt=0)


class ReportConfig(_Section):
    min_relative_score: float = Field(0.95, ge=0.0)
    # Headline metrics per workload type; a candidate qualifies if each is ≥ min_relative_score × reference.
    tool_calling_metrics: list[str] = Field(default_factory=lambda: ["function_name_accuracy"])
    generic_metrics: list[str] = Field(default_factory=lambda: ["similarity"])
    # Optional prices (any currency) per 1k requests, by model name; "reference" is the production model.
    prices: dict[str, float] = Field(default_factory=dict)


class PlatformConfig(_Section):
    # "nmp": NeMo Microservices 25.x (/v1 APIs; URLs in [nmp]). "helix": NeMo Platform 26.x / NeMo Helix
    # (one base URL, workspaces, /apis/<service>/v2/...).
    kind: Literal["nmp", "helix"] = "nmp"
    base_url: str = "http://localhost:8080"  # helix: the platform's single base URL
    workspace: str = "flywheel"  # helix: the workspace every resource lives in
    token_env: str = "NEMO_PLATFORM_TOKEN"  # helix: env var with a bearer token, when auth is enabled


class SandboxConfig(_Section):
    speed: float = Field(150.0, gt=0)
    fault_rate: float = Field(0.0, ge=0.0, le=1.0)
    seed: int = 42


class ElasticsearchConfig(_Section):
    url: str | None = None
    index: str = "flywheel"
    api_key_env: str = "ES_API_KEY"
    username_env: str = "ES_USERNAME"
    password_env: str = "ES_PASSWORD"
    verify_certs: bool = True
    page_size: int = Field(1000, ge=1, le=10000)


def _default_nims() -> list[NimConfig]:
    return [
        NimConfig(
            model_name="meta/llama-3.2-1b-instruct",
            customization=CustomizationConfig(target="meta/llama-3.2-1b-instruct@2.0"),
        )
    ]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLYWHEEL_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    platform: PlatformConfig = Field(default_factory=PlatformConfig)
    nmp: NmpConfig = Field(default_factory=NmpConfig)
    nims: list[NimConfig] = Field(default_factory=_default_nims)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    icl: IclConfig = Field(default_factory=IclConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    timeouts: TimeoutConfig = Field(default_factory=TimeoutConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    elasticsearch: ElasticsearchConfig = Field(default_factory=ElasticsearchConfig)

    @field_validator("nims")
    @classmethod
    def _nims_unique(cls, nims: list[NimConfig]) -> list[NimConfig]:
        if not nims:
            raise ValueError("at least one [[nims]] entry is required")
        seen: set[str] = set()
        for nim in nims:
            if nim.model_name in seen:
                raise ValueError(f"[[nims]] lists {nim.model_name!r} twice")
            seen.add(nim.model_name)
        return nims

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init carries the file's values merged with flag overrides (see load_settings); env wins over the file.
        return (env_settings, init_settings)

    def nim(self, model_name: str) -> NimConfig:
        for nim in self.nims:
            if nim.model_name == model_name:
                return nim
        known = ", ".join(n.model_name for n in self.nims)
        raise ConfigError(
            f"NIM {model_name!r} is not configured",
            hint=f"Configured NIMs: {known}. Add a [[nims]] entry to the config file.",
        )

    def fingerprint(self, *sections: str) -> str:
        """A short hash of the named sections, for lineage (what config produced this artifact)."""
        data = {name: getattr(self, name).model_dump(mode="json") for name in sections}
        return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]

    def redacted(self) -> dict[str, Any]:
        """The effective configuration for display. Secrets are never stored here; say which env vars are set."""
        data = self.model_dump(mode="json")
        secret_envs = {
            "platform": ["token_env"],
            "nmp": ["nemo_token_env", "datastore_token_env", "nim_token_env"],
            "judge": ["api_key_env"],
            "icl": ["embedding_api_key_env"],
            "elasticsearch": ["api_key_env", "username_env", "password_env"],
        }
        for section, keys in secret_envs.items():
            for key in keys:
                env_name = data[section][key]
                state = "set" if os.environ.get(env_name) else "unset"
                data[section][key] = f"{env_name} ({state}, value redacted)"
        return data


class _Merged(Settings):
    """Settings built from already-merged values: the environment was applied once and is not read again."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, *args, **kwargs):  # type: ignore[override]
        return (init_settings,)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    env = os.environ.get("FLYWHEEL_CONFIG")
    if env:
        return Path(env)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid configuration ({source}):"]
    for item in err.errors():
        loc = ".".join(str(part) for part in item["loc"]) or "(top level)"
        msg = item["msg"]
        if item["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def load_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Read the config file (if any), apply env and flag overrides, validate. Raises ConfigError with every problem."""
    config_path = resolve_config_path(path)
    file_data: dict[str, Any] = {}
    source = "built-in defaults"
    if config_path is not None:
        source = str(config_path)
        try:
            file_data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"config file {config_path} does not exist",
                hint="Pass --config PATH or unset FLYWHEEL_CONFIG to use the built-in defaults.",
            ) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {config_path} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(
                f"cannot read config file {config_path}: {exc.strerror or exc}",
                hint="Pass --config with the path of a TOML file.",
            ) from None
    try:
        settings = Settings(**file_data)  # the file, then FLYWHEEL_* env over it
        if overrides:
            # Flags win over env: validate the merged values without re-reading the environment.
            settings = _Merged(**_deep_merge(settings.model_dump(), overrides))
        return settings
    except SettingsError as exc:
        # A FLYWHEEL_* variable holding a list or table (e.g. FLYWHEEL_NIMS) must be valid JSON.
        raise ConfigError(
            f"invalid configuration in the environment: {exc}",
            hint="Complex values such as FLYWHEEL_NIMS are JSON, e.g. '[{\"model_name\": \"meta/llama-3.2-1b-instruct\"}]'.",
        ) from None
    except ValidationError as exc:
        raise ConfigError(
            _format_validation_error(exc, f"{source} + FLYWHEEL_* environment"),
            hint="`flywheel config show` prints the effective configuration; configs/flywheel.toml documents every key.",
        ) from None
