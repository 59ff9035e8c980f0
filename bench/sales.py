"""The sales app's benchmark: one lead-to-cash run on the local model, and the outreach pipeline's
throughput with a scripted model.

    .venv/bin/python bench/sales.py                       # both, on SQLite (tens of minutes)
    .venv/bin/python bench/sales.py --skip-local --leads 50
    .venv/bin/python bench/sales.py --database-url postgresql://postgres@127.0.0.1:5432/bench

Prints exactly one JSON line on stdout; progress goes to stderr.

The API runs in this process (`create_app` with the whole sales app, its lifespan, the in-process
executor) and is driven through its ASGI interface as a person would drive it; mail goes to a
local `aiosmtpd` server that keeps what it accepts. Each part registers a tenant of its own.

`local_model`: the default gateway route with no keys (the bundled SmolLM2). The tenant is seeded
by the app's demo seeding (catalog, policy, template, five leads, a deal, the `products`
knowledge base), then the outreach pipeline runs on the lead most likely to qualify (Umbrella
Analytics) with its review approved by code, and the deal pipeline on the demo deal: proposal
approved, the customer accepts (or, with `--counter P`, counters with P % off), contract
approved, invoice issued and emailed. Reported: the wall time of seeding, of each pipeline and
of each of its steps, in all, the emails that arrived, and the model calls and tokens (input,
output) from the runs' call ledger. A step the local model cannot get through is reported as
`ok: false` with `failed_step` and `error`, not hidden. This part runs in a child process, since
llama.cpp can end a process outright (a grammar too large to build is a segmentation fault):
then `process` says so, the step that was running is named, and `llama_cpp_said` quotes it.

`throughput`: the model is a loopback server speaking the OpenAI wire format
(`batonflow_testkit.fakeserver`) that reads every lead's notes favourably and writes an email
citing the first passage it was given. `--leads` leads (50 by default) are imported, and as many
outreach pipelines are started through the API at once, each approved by code as soon as it
waits, and driven until its email is sent (after one run alone: `alone_s`, its latency with
nothing else running). Reported: runs per minute over the whole batch, and the p50/p95 of a
run's latency in the batch (started to succeeded, the review's wait included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from batonflow.apps.sales import demo
from batonflow_testkit.fakeserver import Behaviour, FakeProvider, Reply
from sales_harness import (
    ENDED,
    SALES,
    call,
    database,
    decide,
    knowledge_ready,
    running_step,
    sales_api,
    say,
    settings_for,
    settle,
    smtp_server,
    start,
)

SCRIPTED_MODEL = "openai:gpt-4.1-mini"
LOCAL_LEAD = "Umbrella Analytics"


def seconds(step: dict[str, Any]) -> float | None:
    if not (step["started_at"] and step["finished_at"]):
        return None
    began, ended = (datetime.fromisoformat(step[k]) for k in ("started_at", "finished_at"))
    return round((ended - began).total_seconds(), 2)


async def drive(
    client: httpx.AsyncClient, run_id: str, answers: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Decide each review or input the run waits on by its step (`answers`), until it ends;
    the run as it ended, with the wall time of each wait-free stretch."""
    stretches, began = [], time.perf_counter()
    while True:
        run = await settle(client, run_id, 0.2)
        stretches.append(round(time.perf_counter() - began, 1))
        if run["status"] in ENDED:
            return run | {"stretches_s": stretches}
        (review,) = run["reviews"]
        say(f"  {run['workflow_id']} waits on {review['step_key']} after {stretches[-1]} s")
        await decide(
            client, review["id"], **answers.get(review["step_key"], {"decision": "approve"})
        )
        began = time.perf_counter()


async def tokens(client: httpx.AsyncClient, run_ids: list[str]) -> dict[str, Any]:
    calls = []
    for run_id in run_ids:
        calls += (await call(client, "GET", f"/api/v1/runs/{run_id}/llm-calls"))["items"]
    latency = sum(c["latency_ms"] or 0 for c in calls) / 1000
    output = sum(c["output_tokens"] for c in calls)
    return {
        "model": calls[0]["model"] if calls else None,
        "model_calls": len(calls),
        "invalid_outputs": sum(1 for c in calls if c["status"] == "invalid_output"),
        "input_tokens": sum(c["input_tokens"] for c in calls),
        "output_tokens": output,
        "output_tokens_per_s": round(output / latency, 2) if latency else None,
    }


def failure(run: dict[str, Any]) -> tuple[str, str] | None:
    """The step a run failed at and why, or None when it succeeded."""
    if run["status"] == "succeeded":
        return None
    failed = [s for s in run["steps"] if s["status"] in ("failed", "dead")]
    step = failed[-1]["key"] if failed else "?"
    error = run.get("error") or (failed[-1]["error"] if failed else None) or {}
    return step, str(error.get("message", error))[:1000]


async def local_model(
    args: argparse.Namespace, folder: Path, url: str, progress: Path
) -> dict[str, Any]:
    """The lead-to-cash run, noting in `progress` what it has measured and which run it waits
    on, for when the local model takes the process down."""
    settings = settings_for(url, folder, llm_timeout=min(600, args.local_limit), local_threads=2)
    began = time.perf_counter()
    out: dict[str, Any] = {"ok": True, "failed_step": None, "error": None}
    async with (
        smtp_server() as (inbox, port),
        sales_api(settings, port, None) as (
            state,
            client,
            tenant_id,
        ),
    ):
        say("local model: seeding the demo tenant")
        await demo.seed(state, tenant_id)
        await knowledge_ready(client)
        out["seed_s"] = round(time.perf_counter() - began, 1)
        leads = (await call(client, "GET", f"{SALES}/leads", params={"q": LOCAL_LEAD}))["items"]
        lead, address = leads[0]["id"], leads[0]["contact"]["email"]
        (deal,) = (await call(client, "GET", f"{SALES}/deals", params={"q": demo.DEAL}))["items"]
        customer: dict[str, Any] = {"answer": "accept"}
        if args.counter is not None:
            customer = {"answer": "counter", "counter": {"discount": str(args.counter)}}
        plan = [
            ("outreach", {"lead_id": lead}, {}),
            (
                "deal",
                {"deal_id": deal["id"]},
                {
                    "customer": {"decision": "submit", "data": customer},
                    "reply": {"decision": "submit", "data": {"answer": "accept"}},
                },
            ),
        ]
        run_ids = []
        for name, record, answers in plan:
            say(f"local model: the {name} pipeline")
            started = time.perf_counter()
            run_id = await start(client, record)
            run_ids.append(run_id)
            running = {"pipeline": name, "run_id": run_id}
            progress.write_text(json.dumps(out | {"running": running}))
            try:
                run = await asyncio.wait_for(drive(client, run_id, answers), args.local_limit)
            except TimeoutError:
                run = await call(client, "GET", f"/api/v1/runs/{run_id}")
                run["error"] = {"message": f"not finished after {args.local_limit:.0f} s"}
                run["status"] = "unfinished"
            out[name] = {
                "status": run["status"],
                "wall_s": round(time.perf_counter() - started, 1),
                "steps_s": {s["key"]: seconds(s) for s in run["steps"] if s["kind"] == "agent"},
                "waits_answered": len(run.get("stretches_s", [])) - 1,
            }
            failed = failure(run)
            if failed is None and name == "outreach" and not run["outputs"].get("email"):
                qualified = run["outputs"]
                failed = ("draft", f"the lead was not qualified ({qualified}): nothing was drafted")
            if failed is not None and out["ok"]:
                out |= {"ok": False, "failed_step": f"{name}.{failed[0]}", "error": failed[1]}
            if failed is not None:
                say(f"local model: {name} stopped at {failed[0]}: {failed[1]}")
            if name == "deal" and failed is None:
                out["invoice"] = {k: run["outputs"]["invoice"][k] for k in ("number", "total")}
            out |= await tokens(client, run_ids)
            progress.write_text(json.dumps(out))
        out["emails"] = {"outreach": inbox.to(address), "all": len(inbox.arrived)}
        out["wall_s"] = round(time.perf_counter() - began, 1)
    return out


class Scripted:
    """The loopback model: reads every lead's notes favourably, and writes a first email that
    cites the first passage it was given."""

    def __call__(self, path: str, body: dict[str, Any]) -> Behaviour:
        if path.endswith("/embeddings"):
            return Reply()
        prompt = str(body["messages"][-1]["content"])
        if any("Write a short first email" in str(m["content"]) for m in body["messages"]):
            given = re.findall(r"^Passage (\S+):$", prompt, re.M)
            email = {
                "subject": "Month-end in a day",
                "body": "Hello,\n\nOur platform runs your agents durably.\n\nThe sales team",
                "citations": given[:1],
            }
            return Reply(json.dumps(email), input_tokens=len(prompt) // 4, output_tokens=40)
        reading = {
            "intent": "automate a reporting workflow this quarter",
            "concerns": ["migration effort"],
            "adjustment": 10,
            "why": "a budgeted project with a date",
        }
        return Reply(json.dumps(reading), input_tokens=len(prompt) // 4, output_tokens=30)


def leads_csv(count: int) -> bytes:
    rows = [
        "company,industry,employees,country,contact_name,email,title,source,budget,currency,notes"
    ]
    rows += [
        f"Bench {i:04d},software,600,NL,Lena {i},lena{i}@bench{i:04d}.example,Director of Data,"
        f"event,90000,EUR,Runs nightly reports with agents; wants per-tenant cost accounting."
        for i in range(count)
    ]
    return ("\n".join(rows) + "\n").encode()


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def one_outreach(client: httpx.AsyncClient, lead_id: str) -> tuple[float, str]:
    began = time.perf_counter()
    run_id = await start(client, {"lead_id": lead_id})
    while True:
        run = await settle(client, run_id, 0.1)
        if run["status"] in ENDED:
            email = (run.get("outputs") or {}).get("email") or {}
            ok = run["status"] == "succeeded" and email.get("status") == "sent"
            return time.perf_counter() - began, "sent" if ok else run["status"]
        await decide(client, run["reviews"][0]["id"], decision="approve")


async def throughput(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    url = await database(args.database_url, folder, "throughput")
    async with (
        smtp_server() as (inbox, port),
        FakeProvider(respond=Scripted()) as model,
    ):
        settings = settings_for(
            url,
            folder,
            openai_base_url=model.openai_url,
            openai_api_key=SecretStr("sk-bench-not-a-secret"),
            llm_max_retries=0,
        )
        async with sales_api(settings, port, SCRIPTED_MODEL) as (state, client, tenant_id):
            say(f"throughput: seeding the tenant and importing {args.leads} leads")
            await demo.seed(state, tenant_id)
            await knowledge_ready(client)
            await call(
                client,
                "POST",
                f"{SALES}/leads/import",
                content=leads_csv(args.leads + 1),
                headers={"content-type": "text/csv"},
            )
            lead_ids = []
            cursor = None
            while True:
                params = {"limit": 200, "q": "Bench"} | ({"cursor": cursor} if cursor else {})
                page = await call(client, "GET", f"{SALES}/leads", params=params)
                lead_ids += [lead["id"] for lead in page["items"]]
                if (cursor := page["next_cursor"]) is None:
                    break
            say("throughput: one outreach pipeline alone")
            alone, outcome = await one_outreach(client, lead_ids.pop())
            if outcome != "sent":
                raise RuntimeError(f"the outreach pipeline run alone ended {outcome}")
            say(f"throughput: {len(lead_ids)} outreach pipelines at once")
            began = time.perf_counter()
            results = await asyncio.gather(*(one_outreach(client, i) for i in lead_ids))
            wall = time.perf_counter() - began
    latencies = [seconds for seconds, _ in results]
    outcomes = [outcome for _, outcome in results]
    return {
        "database": url.split(":", 1)[0].split("+")[0],
        "runs": len(results),
        "sent": outcomes.count("sent"),
        "not_sent": {o: outcomes.count(o) for o in sorted(set(outcomes) - {"sent"})},
        "emails_arrived": len(inbox.arrived) - 1,
        "alone_s": round(alone, 2),
        "wall_s": round(wall, 2),
        "runs_per_min": round(len(results) / wall * 60, 1),
        "latency_p50_s": quantile(latencies, 0.5),
        "latency_p95_s": quantile(latencies, 0.95),
        "latency_mean_s": round(statistics.fmean(latencies), 2),
    }


async def local_in_child(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """`local_model` in a child process: llama.cpp can end a process outright (a grammar it
    cannot build is a segmentation fault), and then the step it was running is the finding."""
    url = await database(args.database_url, folder, "local")
    progress, errors = folder / "local-progress.json", folder / "local-stderr.txt"
    more = ["--counter", str(args.counter)] if args.counter is not None else []
    with errors.open("wb") as stderr:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            *("--child-db", url, "--child-progress", str(progress)),
            *("--local-limit", str(args.local_limit), *more),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        stdout, _ = await child.communicate()
    lines = [line for line in errors.read_text(errors="replace").splitlines() if "::=" not in line]
    say("\n".join(lines))
    if child.returncode == 0:
        result: dict[str, Any] = json.loads(stdout.decode().splitlines()[-1])
        return result
    how = f"exit status {child.returncode}"
    if child.returncode is not None and child.returncode < 0:
        how = signal.Signals(-child.returncode).name
    seen: dict[str, Any] = json.loads(progress.read_text()) if progress.exists() else {}
    running = seen.pop("running", None)
    said = next((line.strip() for line in reversed(lines) if "error" in line.lower()), None)
    where = "the demo seeding"
    if running is not None:
        step = await running_step(url, running["run_id"]) or "?"
        where = f"{running['pipeline']}.{step}"
    error = f"the process died ({how}) while {where} ran on the local model"
    failed = seen if not seen.get("ok", True) else {"failed_step": where, "error": error}
    return (
        seen
        | {"ok": False, "process": error}
        | {k: failed[k] for k in ("failed_step", "error")}
        | ({"llama_cpp_said": said} if said else {})
    )


async def main(args: argparse.Namespace) -> dict[str, Any]:
    if args.child_db is not None:
        progress = Path(args.child_progress)
        return await local_model(args, progress.parent, args.child_db, progress)
    out: dict[str, Any] = {"benchmark": "sales", "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as folder:
        if not args.skip_local:
            out["local_model"] = await local_in_child(args, Path(folder))
            say(json.dumps(out["local_model"]))
        out["throughput"] = await throughput(args, Path(folder))
        say(json.dumps(out["throughput"]))
    return out


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=50, help="outreach pipelines to run at once")
    parser.add_argument("--skip-local", action="store_true", help="no run on the local model")
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL database (migrated here); SQLite if unset",
    )
    parser.add_argument(
        "--counter", type=float, default=None, help="the customer counters with this percent off"
    )
    parser.add_argument(
        "--local-limit", type=float, default=3600, help="seconds each local pipeline may take"
    )
    parser.add_argument("--child-db", help=argparse.SUPPRESS)
    parser.add_argument("--child-progress", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.leads < 1:
        parser.error("--leads must be at least 1")
    print(json.dumps(asyncio.run(main(args)), separators=(",", ":")), flush=True)


if __name__ == "__main__":
    cli()
