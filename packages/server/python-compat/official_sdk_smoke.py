#!/usr/bin/env python3
"""End-to-end check that the official Tinker Python SDK works unchanged against a tinker-ts server.

Uses only the SDK's public API. Every step prints one line; the script exits 1 if any step
fails (the failures are listed at the end), 2 on bad usage.

    PYTHONPATH=<official SDK src + its dependencies> \\
      python3 official_sdk_smoke.py --base-url http://127.0.0.1:8000 [--base-model NAME]
"""
from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
import traceback
import uuid
from typing import Any, Callable, TypeVar

import tinker
from tinker import types

T = TypeVar("T")

# Futures resolve within seconds on the tiny stand-ins; this only guards against hangs.
RESULT_TIMEOUT_S = 180.0
# Logprobs computed by different paths (training forward vs. sampler prefill) agree to float32 noise.
LOGPROB_TOLERANCE = 2e-3

# Above the SDK's default chunk limit (fwdbwd_max_chunk_len = 1024 datums), so it sends two requests.
CHUNKED_BATCH_SIZE = 1100

# Short fixed sequences: the tiny stand-ins learn them within a few Adam steps.
SEQUENCES = [
    [11, 22, 33, 44, 55, 66, 77, 88],
    [101, 202, 303, 404, 505, 606, 707],
]


class StepFailed(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


def next_token_datum(tokens: list[int]) -> types.Datum:
    """Inputs are tokens[:-1] and targets tokens[1:]: the client shifts, the server must not."""
    return types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={"target_tokens": tokens[1:], "weights": [1.0] * (len(tokens) - 1)},
    )


def batch() -> list[types.Datum]:
    return [next_token_datum(t) for t in SEQUENCES]


def loss_of(out: types.ForwardBackwardOutput) -> float:
    check("loss:sum" in out.metrics, f"metrics lack loss:sum: {out.metrics}")
    return float(out.metrics["loss:sum"])


def logprobs_of(out: types.ForwardBackwardOutput) -> list[list[float]]:
    return [list(o["logprobs"].tolist()) for o in out.loss_fn_outputs]


def close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


class Smoke:
    def __init__(self, base_url: str, base_model: str | None, api_key: str, other_api_key: str) -> None:
        self.base_url = base_url
        self.requested_model = base_model
        self.api_key = api_key
        self.other_api_key = other_api_key
        self.failures: list[str] = []
        self.values: dict[str, Any] = {}
        self.suffix = uuid.uuid4().hex[:8]

    def step(self, name: str, fn: Callable[[], T], *needs: str) -> T | None:
        missing = [n for n in needs if n not in self.values]
        if missing:
            self.failures.append(f"{name}: skipped (needs {', '.join(missing)})")
            print(f"SKIP {name} (needs {', '.join(missing)})", flush=True)
            return None
        started = time.monotonic()
        try:
            detail = fn()
        except Exception as err:  # noqa: BLE001 - every failure is reported, then the run goes on
            kind = "" if isinstance(err, StepFailed) else f"{type(err).__name__}: "
            self.failures.append(f"{name}: {kind}{err}")
            print(f"FAIL {name}: {kind}{err}", flush=True)
            if not isinstance(err, StepFailed):
                traceback.print_exc()
            return None
        took = time.monotonic() - started
        print(f"ok   {name} ({took:.2f}s){'  ' + str(detail) if detail is not None else ''}", flush=True)
        return detail

    # --- service ---------------------------------------------------------------------------

    def connect(self) -> str:
        self.values["service"] = tinker.ServiceClient(base_url=self.base_url, api_key=self.api_key)
        return f"tinker {tinker.__version__}"

    def capabilities(self) -> str:
        caps = self.values["service"].get_server_capabilities()
        names = [m.model_name for m in caps.supported_models]
        check(len(names) > 0, "no supported models")
        if self.requested_model is not None:
            check(self.requested_model in names, f"{self.requested_model} not among {names}")
            model = self.requested_model
        else:
            # The smallest stand-in keeps the run fast.
            tiny = [n for n in names if "tiny" in n]
            model = tiny[0] if tiny else names[0]
        self.values["base_model"] = model
        return f"{len(names)} models, using {model}"

    # --- training --------------------------------------------------------------------------

    def create_training_client(self) -> str:
        tc = self.values["service"].create_lora_training_client(
            base_model=self.values["base_model"], rank=4, seed=7, user_metadata={"suite": "python-compat"}
        )
        self.values["tc"] = tc
        return f"model_id={tc.model_id}"

    def get_info(self) -> str:
        tc = self.values["tc"]
        info = tc.get_info()
        check(info.model_id == tc.model_id, f"get_info model_id {info.model_id!r}")
        check(info.model_data.model_name == self.values["base_model"], f"get_info model_name {info.model_data.model_name!r}")
        check(info.is_lora is not False and info.lora_rank in (None, 4), f"get_info lora {info.is_lora} {info.lora_rank}")
        return f"arch={info.model_data.arch} lora_rank={info.lora_rank}"

    def train(self) -> str:
        tc = self.values["tc"]
        adam = types.AdamParams(learning_rate=5e-3)
        losses: list[float] = []
        for _ in range(5):
            # Submit both before waiting, as the SDK intends: the server orders them by seq_id.
            fb = tc.forward_backward(batch(), "cross_entropy")
            opt = tc.optim_step(adam)
            out = fb.result(timeout=RESULT_TIMEOUT_S)
            opt.result(timeout=RESULT_TIMEOUT_S)
            losses.append(loss_of(out))
            rows = logprobs_of(out)
            check(len(rows) == len(SEQUENCES), f"{len(rows)} loss_fn_outputs for {len(SEQUENCES)} datums")
            for row, seq in zip(rows, SEQUENCES):
                check(len(row) == len(seq) - 1, f"logprobs length {len(row)} for {len(seq) - 1} targets")
                check(all(math.isfinite(x) and x <= 0 for x in row), f"logprobs not finite/non-positive: {row}")
            # cross_entropy: loss:sum = -sum(weights * target logprobs), weights all 1 here.
            expected = -sum(sum(r) for r in rows)
            check(close(losses[-1], expected, 1e-3), f"loss:sum {losses[-1]} != -sum(logprobs) {expected}")
        check(losses[-1] < losses[0], f"loss did not fall: {losses}")
        self.values["losses"] = losses
        return "losses " + ", ".join(f"{x:.4f}" for x in losses)

    def forward_matches(self) -> str:
        tc = self.values["tc"]
        fwd = tc.forward(batch(), "cross_entropy").result(timeout=RESULT_TIMEOUT_S)
        again = tc.forward(batch(), "cross_entropy").result(timeout=RESULT_TIMEOUT_S)
        check(loss_of(fwd) == loss_of(again), f"forward is not deterministic: {loss_of(fwd)} vs {loss_of(again)}")
        check(loss_of(fwd) < self.values["losses"][0], "forward loss is not below the first training loss")
        self.values["forward_loss"] = loss_of(fwd)
        self.values["forward_logprobs"] = logprobs_of(fwd)
        return f"loss {loss_of(fwd):.4f}"

    def save_state(self) -> str:
        res = self.values["tc"].save_state(f"state-{self.suffix}").result(timeout=RESULT_TIMEOUT_S)
        check(res.path.startswith("tinker://") and "/weights/" in res.path, f"unexpected path {res.path}")
        self.values["state_path"] = res.path
        return res.path

    def load_with_optimizer(self) -> str:
        """A fresh model that loads weights + optimizer state must continue exactly like the original."""
        service = self.values["service"]
        resumed = service.create_lora_training_client(base_model=self.values["base_model"], rank=4, seed=99)
        resumed.load_state_with_optimizer(self.values["state_path"]).result(timeout=RESULT_TIMEOUT_S)
        fwd = resumed.forward(batch(), "cross_entropy").result(timeout=RESULT_TIMEOUT_S)
        check(close(loss_of(fwd), self.values["forward_loss"], 1e-5),
              f"loaded loss {loss_of(fwd)} != saved {self.values['forward_loss']}")
        adam = types.AdamParams(learning_rate=5e-3)
        losses = []
        for tc in (self.values["tc"], resumed):
            tc.forward_backward(batch(), "cross_entropy").result(timeout=RESULT_TIMEOUT_S)
            tc.optim_step(adam).result(timeout=RESULT_TIMEOUT_S)
            losses.append(loss_of(tc.forward(batch(), "cross_entropy").result(timeout=RESULT_TIMEOUT_S)))
        check(close(losses[0], losses[1], 1e-4), f"after one more step: original {losses[0]} vs resumed {losses[1]}")
        self.values["stepped_loss"] = losses[0]
        return f"both continue to {losses[0]:.5f}"

    def from_state(self) -> str:
        service = self.values["service"]
        plain = service.create_training_client_from_state(self.values["state_path"])
        with_opt = service.create_training_client_from_state_with_optimizer(self.values["state_path"])
        got = [loss_of(tc.forward(batch(), "cross_entropy").result(timeout=RESULT_TIMEOUT_S)) for tc in (plain, with_opt)]
        for g in got:
            check(close(g, self.values["forward_loss"], 1e-5), f"restored loss {g} != saved {self.values['forward_loss']}")
        return f"{plain.model_id}, {with_opt.model_id}"

    def chunked_batch(self) -> str:
        """A batch above the chunk limit goes out as several requests whose outputs the SDK merges."""
        service = self.values["service"]
        tc = service.create_lora_training_client(base_model=self.values["base_model"], rank=4, seed=11)
        one = next_token_datum(SEQUENCES[1][:2])
        single = loss_of(tc.forward([one], "cross_entropy").result(timeout=RESULT_TIMEOUT_S))
        n = CHUNKED_BATCH_SIZE
        out = tc.forward_backward([one] * n, "cross_entropy").result(timeout=RESULT_TIMEOUT_S)
        check(len(out.loss_fn_outputs) == n, f"{len(out.loss_fn_outputs)} outputs for {n} datums")
        check(close(loss_of(out), n * single, 1e-4), f"loss:sum {loss_of(out)} != {n} x {single}")
        tc.optim_step(types.AdamParams(learning_rate=5e-3)).result(timeout=RESULT_TIMEOUT_S)
        after = loss_of(tc.forward([one], "cross_entropy").result(timeout=RESULT_TIMEOUT_S))
        check(after < single, f"step on the chunked batch did not lower the loss: {single} -> {after}")
        return f"{n} datums, loss:sum {loss_of(out):.2f}"

    def rl_losses(self) -> str:
        """RL losses and their config reach the server; loss:sum matches the formula on returned logprobs."""
        tc = self.values["tc"]
        seq = SEQUENCES[0]
        n = len(seq) - 1
        sampler_lps = [-3.0 + 0.1 * i for i in range(n)]
        advantages = [1.0 if i % 2 == 0 else -0.5 for i in range(n)]
        datum = types.Datum(
            model_input=types.ModelInput.from_ints(seq[:-1]),
            loss_fn_inputs={"target_tokens": seq[1:], "logprobs": sampler_lps, "advantages": advantages},
        )
        results = []
        for loss_fn, config in (("importance_sampling", None), ("ppo", {"clip_low_threshold": 0.5, "clip_high_threshold": 1.5})):
            out = tc.forward([datum], loss_fn, config).result(timeout=RESULT_TIMEOUT_S)
            lps = logprobs_of(out)[0]
            check(len(lps) == n, f"{loss_fn}: {len(lps)} logprobs for {n} targets")
            ratios = [math.exp(t - s) for t, s in zip(lps, sampler_lps)]
            if loss_fn == "importance_sampling":
                expected = -sum(r * a for r, a in zip(ratios, advantages))
            else:
                expected = -sum(min(r * a, min(max(r, 0.5), 1.5) * a) for r, a in zip(ratios, advantages))
            check(close(loss_of(out), expected, 1e-3), f"{loss_fn} loss:sum {loss_of(out)} != {expected}")
            results.append(f"{loss_fn} {loss_of(out):.4f}")
        for loss_fn, config in (("cispo", None), ("dro", {"beta": 0.1})):
            out = tc.forward([datum], loss_fn, config).result(timeout=RESULT_TIMEOUT_S)
            check(math.isfinite(loss_of(out)), f"{loss_fn} loss:sum {loss_of(out)}")
            results.append(f"{loss_fn} {loss_of(out):.4f}")
        return ", ".join(results)

    def custom_loss(self) -> str:
        """forward_backward_custom: the SDK's client-side loss (needs torch), sent back as weights = -dC/dlogprobs."""
        try:
            import torch  # noqa: F401 - only checks that the SDK's optional dependency is there
        except ImportError:
            return "skipped: torch is not importable"
        service = self.values["service"]
        tc = service.create_lora_training_client(base_model=self.values["base_model"], rank=4, seed=13)
        before = loss_of(tc.forward(batch(), "cross_entropy").result(timeout=RESULT_TIMEOUT_S))

        def negative_logprob_sum(data: list[types.Datum], logprobs: list[Any]) -> tuple[Any, dict[str, float]]:
            loss = -sum(lp.sum() for lp in logprobs)
            return loss, {"custom_loss:sum": float(loss)}

        out = tc.forward_backward_custom(batch(), negative_logprob_sum).result(timeout=RESULT_TIMEOUT_S)
        check(close(out.metrics["custom_loss:sum"], before, 1e-4), f"custom loss {out.metrics} vs forward {before}")
        # With weights = -d(-sum lp)/d lp = 1, the server's cross_entropy is the same loss.
        check(close(loss_of(out), before, 1e-4), f"surrogate loss:sum {loss_of(out)} vs forward {before}")
        tc.optim_step(types.AdamParams(learning_rate=5e-3)).result(timeout=RESULT_TIMEOUT_S)
        after = loss_of(tc.forward(batch(), "cross_entropy").result(timeout=RESULT_TIMEOUT_S))
        check(after < before, f"custom-loss step did not lower the loss: {before} -> {after}")
        return f"loss {before:.4f} -> {after:.4f}"

    def failed_future_is_a_clear_error(self) -> str:
        """Misaligned loss inputs fail fast, with the server's message, without retrying."""
        tc = self.values["tc"]
        bad = types.Datum(
            model_input=types.ModelInput.from_ints([1, 2, 3, 4]),
            loss_fn_inputs={"target_tokens": [2, 3], "weights": [1.0, 1.0]},
        )
        started = time.monotonic()
        try:
            tc.forward([bad], "cross_entropy").result(timeout=RESULT_TIMEOUT_S)
        except Exception as err:  # noqa: BLE001 - the SDK raises its own error types
            took = time.monotonic() - started
            check(took < 30, f"bad datum took {took:.1f}s to fail (retried?)")
            check("loss_fn_inputs" in str(err), f"error does not name the input: {err}")
            # The model must still work afterwards.
            tc.forward(batch(), "cross_entropy").result(timeout=RESULT_TIMEOUT_S)
            return f"{type(err).__name__} after {took:.1f}s: {str(err)[:120]}"
        raise StepFailed("misaligned target_tokens were accepted")

    def weights_access_token(self) -> str:
        """Another account loads this account's private checkpoint by presenting this account's key."""
        other = tinker.ServiceClient(base_url=self.base_url, api_key=self.other_api_key)
        try:
            other.create_training_client_from_state(self.values["state_path"])
        except tinker.NotFoundError:
            pass
        else:
            raise StepFailed("another account read a private checkpoint without weights_access_token")
        tc = other.create_training_client_from_state(self.values["state_path"], weights_access_token=self.api_key)
        got = loss_of(tc.forward(batch(), "cross_entropy").result(timeout=RESULT_TIMEOUT_S))
        check(close(got, self.values["forward_loss"], 1e-5), f"loaded loss {got} != saved {self.values['forward_loss']}")
        return tc.model_id

    # --- sampling --------------------------------------------------------------------------

    def save_for_sampler(self) -> str:
        tc = self.values["tc"]
        res = tc.save_weights_for_sampler(f"sampler-{self.suffix}").result(timeout=RESULT_TIMEOUT_S)
        check(res.path.startswith("tinker://") and "/sampler_weights/" in res.path, f"unexpected path {res.path}")
        self.values["sampler_path"] = res.path
        self.values["sc"] = self.values["service"].create_sampling_client(model_path=res.path)
        return res.path

    def sample(self) -> str:
        sc = self.values["sc"]
        prompt = types.ModelInput.from_ints(SEQUENCES[0][:4])
        params = types.SamplingParams(max_tokens=6, temperature=1.0, seed=1234)
        res = sc.sample(prompt, num_samples=2, sampling_params=params, include_prompt_logprobs=True,
                        topk_prompt_logprobs=3).result(timeout=RESULT_TIMEOUT_S)
        check(len(res.sequences) == 2, f"{len(res.sequences)} sequences for num_samples=2")
        for s in res.sequences:
            check(1 <= len(s.tokens) <= 6, f"{len(s.tokens)} tokens for max_tokens=6")
            check(s.stop_reason in ("length", "stop"), f"stop_reason {s.stop_reason!r}")
            check(s.logprobs is not None and len(s.logprobs) == len(s.tokens), "sampled logprobs missing or misaligned")
        plp = res.prompt_logprobs
        check(plp is not None and len(plp) == 4, f"prompt_logprobs {plp}")
        check(plp[0] is None and all(x is not None and x <= 0 for x in plp[1:]), f"prompt_logprobs {plp}")
        topk = res.topk_prompt_logprobs
        check(topk is not None and len(topk) == 4, f"topk_prompt_logprobs {topk}")
        for row in topk[1:]:
            check(row is not None and len(row) == 3, f"topk row {row}")
            lps = [lp for _, lp in row]
            check(lps == sorted(lps, reverse=True), f"topk row not sorted: {row}")
        # A stop token ends the sequence there (greedy, so the second run repeats the first).
        greedy = types.SamplingParams(max_tokens=6, temperature=0.0)
        free = sc.sample(prompt, num_samples=1, sampling_params=greedy).result(timeout=RESULT_TIMEOUT_S)
        stop_at = free.sequences[0].tokens[1]
        stopped = sc.sample(prompt, num_samples=1, sampling_params=types.SamplingParams(
            max_tokens=6, temperature=0.0, stop=[stop_at])).result(timeout=RESULT_TIMEOUT_S)
        got = stopped.sequences[0]
        check(got.stop_reason == "stop", f"stop token {stop_at}: stop_reason {got.stop_reason!r}")
        check(got.tokens == free.sequences[0].tokens[: len(got.tokens)] and got.tokens[-1] == stop_at and len(got.tokens) <= 2,
              f"stop token {stop_at}: {got.tokens} vs free run {free.sequences[0].tokens}")
        # The same seed gives the same sample.
        again = sc.sample(prompt, num_samples=2, sampling_params=params).result(timeout=RESULT_TIMEOUT_S)
        check([s.tokens for s in again.sequences] == [s.tokens for s in res.sequences], "seeded sampling not reproducible")
        return f"{[s.tokens for s in res.sequences]}"

    def compute_logprobs(self) -> str:
        """The sampler's prompt logprobs must equal the trainer's target logprobs for the same weights."""
        sc = self.values["sc"]
        seq = SEQUENCES[0]
        lps = sc.compute_logprobs(types.ModelInput.from_ints(seq)).result(timeout=RESULT_TIMEOUT_S)
        check(len(lps) == len(seq) and lps[0] is None, f"compute_logprobs {lps}")
        trainer = self.values["forward_logprobs"][0]
        # Runs before load_with_optimizer trains further, so both saw the same weights.
        worst = max(abs(a - b) for a, b in zip(lps[1:], trainer))
        check(worst <= LOGPROB_TOLERANCE, f"sampler vs trainer logprobs differ by {worst}")
        return f"max |sampler - trainer| = {worst:.2e}"

    def save_and_get_sampling_client(self) -> str:
        tc = self.values["tc"]
        sc = tc.save_weights_and_get_sampling_client()
        seq = SEQUENCES[1]
        lps = sc.compute_logprobs(types.ModelInput.from_ints(seq)).result(timeout=RESULT_TIMEOUT_S)
        trainer = logprobs_of(tc.forward([next_token_datum(seq)], "cross_entropy").result(timeout=RESULT_TIMEOUT_S))[0]
        worst = max(abs(a - b) for a, b in zip(lps[1:], trainer))
        check(worst <= LOGPROB_TOLERANCE, f"sampler vs trainer logprobs differ by {worst}")
        out = sc.sample(types.ModelInput.from_ints(seq[:3]), 1, types.SamplingParams(max_tokens=3, seed=5)).result(
            timeout=RESULT_TIMEOUT_S)
        check(len(out.sequences) == 1, "no sequence")
        return f"max |sampler - trainer| = {worst:.2e}"

    def base_model_sampling(self) -> str:
        sc = self.values["service"].create_sampling_client(base_model=self.values["base_model"])
        out = sc.sample(types.ModelInput.from_ints(SEQUENCES[0][:3]), 1,
                        types.SamplingParams(max_tokens=4, temperature=0.0)).result(timeout=RESULT_TIMEOUT_S)
        check(len(out.sequences) == 1 and len(out.sequences[0].tokens) >= 1, f"{out}")
        return f"{out.sequences[0].tokens}"

    # --- async variants --------------------------------------------------------------------

    def async_variants(self) -> str:
        async def run() -> str:
            service = self.values["service"]
            caps = await service.get_server_capabilities_async()
            check(len(caps.supported_models) > 0, "no models (async)")
            tc = await service.create_lora_training_client_async(base_model=self.values["base_model"], rank=4, seed=3)
            fb = await tc.forward_backward_async(batch(), "cross_entropy")
            out = await fb
            opt = await tc.optim_step_async(types.AdamParams(learning_rate=5e-3))
            await opt
            fwd = await (await tc.forward_async(batch(), "cross_entropy"))
            check(loss_of(fwd) < loss_of(out), f"async step did not lower the loss: {loss_of(out)} -> {loss_of(fwd)}")
            sc = await tc.save_weights_and_get_sampling_client_async()
            res = await sc.sample_async(types.ModelInput.from_ints([1, 2, 3]), 1, types.SamplingParams(max_tokens=2))
            check(len(res.sequences) == 1, "async sample returned no sequence")
            return f"loss {loss_of(out):.4f} -> {loss_of(fwd):.4f}"

        return asyncio.run(run())

    # --- REST ------------------------------------------------------------------------------

    def rest(self) -> str:
        rc = self.values["service"].create_rest_client()
        model_id = self.values["tc"].model_id
        runs = rc.list_training_runs(limit=50).result(timeout=RESULT_TIMEOUT_S)
        check(any(r.training_run_id == model_id for r in runs.training_runs), f"{model_id} not in list_training_runs")
        check(runs.cursor.total_count >= 1, f"cursor {runs.cursor}")
        run = rc.get_training_run(model_id).result(timeout=RESULT_TIMEOUT_S)
        check(run.training_run_id == model_id and run.base_model == self.values["base_model"], f"{run}")
        check(run.is_lora and run.lora_rank == 4, f"lora fields {run.is_lora} {run.lora_rank}")
        check(run.user_metadata == {"suite": "python-compat"}, f"user_metadata {run.user_metadata}")
        by_path = rc.get_training_run_by_tinker_path(self.values["state_path"]).result(timeout=RESULT_TIMEOUT_S)
        check(by_path.training_run_id == model_id, f"by path: {by_path.training_run_id}")
        info = rc.get_weights_info_by_tinker_path(self.values["state_path"]).result(timeout=RESULT_TIMEOUT_S)
        check(info.base_model == self.values["base_model"] and info.is_lora and info.lora_rank == 4, f"{info}")

        ckpts = rc.list_checkpoints(model_id).result(timeout=RESULT_TIMEOUT_S)
        paths = {c.tinker_path: c for c in ckpts.checkpoints}
        check(self.values["state_path"] in paths, f"state checkpoint missing from {list(paths)}")
        check(self.values["sampler_path"] in paths, f"sampler checkpoint missing from {list(paths)}")
        check(paths[self.values["state_path"]].checkpoint_type == "training", "state checkpoint type")
        check(paths[self.values["sampler_path"]].checkpoint_type == "sampler", "sampler checkpoint type")
        user = rc.list_user_checkpoints(limit=100).result(timeout=RESULT_TIMEOUT_S)
        check(self.values["state_path"] in {c.tinker_path for c in user.checkpoints}, "state checkpoint not in list_user_checkpoints")

        sampler_path = self.values["sampler_path"]
        rc.publish_checkpoint_from_tinker_path(sampler_path).result(timeout=RESULT_TIMEOUT_S)
        check(self._checkpoint(rc, model_id, sampler_path).public, "publish did not mark the checkpoint public")
        rc.unpublish_checkpoint_from_tinker_path(sampler_path).result(timeout=RESULT_TIMEOUT_S)
        check(not self._checkpoint(rc, model_id, sampler_path).public, "unpublish left the checkpoint public")
        rc.set_checkpoint_ttl_from_tinker_path(sampler_path, 3600).result(timeout=RESULT_TIMEOUT_S)
        check(self._checkpoint(rc, model_id, sampler_path).expires_at is not None, "ttl did not set expires_at")
        rc.set_checkpoint_ttl_from_tinker_path(sampler_path, None).result(timeout=RESULT_TIMEOUT_S)
        check(self._checkpoint(rc, model_id, sampler_path).expires_at is None, "ttl None did not clear expires_at")

        url = rc.get_checkpoint_archive_url_from_tinker_path(self.values["state_path"]).result(timeout=RESULT_TIMEOUT_S)
        check(url.url.startswith("http"), f"archive url {url.url}")

        sessions = rc.list_sessions(limit=50).result(timeout=RESULT_TIMEOUT_S)
        check(len(sessions.sessions) >= 1, "list_sessions is empty")
        session_id = model_id.split(":")[0]
        session = rc.get_session(session_id).result(timeout=RESULT_TIMEOUT_S)
        check(model_id in session.training_run_ids, f"{model_id} not in get_session {session.training_run_ids}")
        check(len(session.sampler_ids) >= 1, "get_session lists no samplers")
        sampler = rc.get_sampler(session.sampler_ids[0]).result(timeout=RESULT_TIMEOUT_S)
        check(sampler.base_model == self.values["base_model"], f"get_sampler {sampler}")
        check(self.values["sc"].get_base_model() == self.values["base_model"], "SamplingClient.get_base_model")

        rc.delete_checkpoint_from_tinker_path(sampler_path).result(timeout=RESULT_TIMEOUT_S)
        after = rc.list_checkpoints(model_id).result(timeout=RESULT_TIMEOUT_S)
        check(sampler_path not in {c.tinker_path for c in after.checkpoints}, "deleted checkpoint still listed")
        return f"{len(runs.training_runs)} runs, {len(ckpts.checkpoints)} checkpoints, {len(sessions.sessions)} sessions"

    @staticmethod
    def _checkpoint(rc: Any, model_id: str, path: str) -> Any:
        for c in rc.list_checkpoints(model_id).result(timeout=RESULT_TIMEOUT_S).checkpoints:
            if c.tinker_path == path:
                return c
        raise StepFailed(f"{path} not listed")

    def bad_input_is_a_clear_error(self) -> str:
        """A user error must fail fast (no minutes of retries) with the server's message."""
        started = time.monotonic()
        try:
            self.values["service"].create_lora_training_client(base_model="no-such/model", rank=4)
        except Exception as err:  # noqa: BLE001 - any SDK error type is fine; the message matters
            took = time.monotonic() - started
            check(took < 30, f"unknown model took {took:.1f}s to fail (retried?)")
            check("no-such/model" in str(err), f"error does not name the model: {err}")
            return f"{type(err).__name__} after {took:.1f}s"
        raise StepFailed("unknown base model was accepted")

    def run(self) -> int:
        self.step("connect", self.connect)
        self.step("get_server_capabilities", self.capabilities, "service")
        self.step("create_lora_training_client", self.create_training_client, "base_model")
        self.step("get_info", self.get_info, "tc")
        self.step("forward_backward + optim_step lower the loss", self.train, "tc")
        self.step("forward", self.forward_matches, "losses")
        self.step("save_state", self.save_state, "forward_loss")
        self.step("save_weights_for_sampler + create_sampling_client", self.save_for_sampler, "tc")
        self.step("sample with prompt logprobs", self.sample, "sc")
        self.step("compute_logprobs", self.compute_logprobs, "sc", "forward_logprobs")
        self.step("load_state_with_optimizer resumes exactly", self.load_with_optimizer, "state_path")
        self.step("create_training_client_from_state[_with_optimizer]", self.from_state, "state_path")
        self.step("create_training_client_from_state with weights_access_token", self.weights_access_token, "state_path")
        self.step("save_weights_and_get_sampling_client", self.save_and_get_sampling_client, "tc")
        self.step("sampling from the base model", self.base_model_sampling, "base_model")
        self.step("forward_backward split into chunks", self.chunked_batch, "base_model")
        self.step("importance_sampling, ppo, cispo, dro", self.rl_losses, "tc")
        self.step("forward_backward_custom", self.custom_loss, "base_model")
        self.step("failed future is a clear error", self.failed_future_is_a_clear_error, "tc")
        self.step("async variants", self.async_variants, "base_model")
        self.step("RestClient", self.rest, "state_path", "sampler_path")
        self.step("bad input is a clear error", self.bad_input_is_a_clear_error, "service")
        if self.failures:
            print(f"\n{len(self.failures)} step(s) failed:", flush=True)
            for f in self.failures:
                print(f"  - {f}", flush=True)
            return 1
        print("\nall steps passed", flush=True)
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True, help="server root, e.g. http://127.0.0.1:8000")
    parser.add_argument("--base-model", default=None, help="default: the smallest stand-in the server lists")
    parser.add_argument("--api-key", default="tml-python-compat", help="must start with tml- (the SDK checks)")
    parser.add_argument("--other-api-key", default="tml-python-compat-other", help="a second account's key")
    args = parser.parse_args()
    return Smoke(args.base_url, args.base_model, args.api_key, args.other_api_key).run()


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK keeps background threads (heartbeat, event loop); do not wait for them.
    import os

    os._exit(code)
