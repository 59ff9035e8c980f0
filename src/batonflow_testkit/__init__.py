"""Test doubles for Batonflow and the apps built on it, kept out of the product package.

- `scripted.ScriptedModel`: a deterministic in-process model, driven by a queue of replies or a
  function, for engine and gateway tests.
- `fakeserver.FakeProvider`: a real loopback HTTP server that speaks the OpenAI and Anthropic
  wire formats, with scripted replies, failures, hangs and malformed bodies, for tests and
  benchmarks of the gateway's real HTTP adapters (`python -m batonflow_testkit.fakeserver`).
"""
