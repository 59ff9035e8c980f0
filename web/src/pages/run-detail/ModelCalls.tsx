// A run's model calls: the table (model, status, tokens, cost, latency) the step panel shows for
// one step, and the run page's section with all of them and their total.
import { formatCount, formatMs, formatUsd } from "../../format";
import { LocalModelNote } from "../../components/LocalModelNote";
import type { LlmCall, LlmCallList } from "../../types";
import { ErrorBox, Loading, StatusBadge } from "../../ui";
import type { Loaded } from "../../ui";

export function CallsTable({ calls }: { calls: LlmCall[] }) {
  if (calls.length === 0) return <p className="muted">No model calls.</p>;
  return (
    <>
      <LocalModelNote calls={calls} />
      <CallRows calls={calls} />
    </>
  );
}

function CallRows({ calls }: { calls: LlmCall[] }) {
  return (
    <div className="table-scroll">
      <table className="calls">
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Model</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">Tokens in / out</th>
            <th scope="col" className="num">Cost</th>
            <th scope="col" className="num">Latency</th>
          </tr>
        </thead>
        <tbody>
          {calls.map((call) => (
            <tr key={call.id}>
              <td>
                {call.step_key ?? "—"}
                {call.attempt && call.attempt > 1 ? <span className="muted"> (attempt {call.attempt})</span> : null}
              </td>
              <td>
                {call.provider}:{call.model}
                {call.prompt_key ? <span className="muted"> ({call.prompt_key} v{call.prompt_version})</span> : null}
              </td>
              <td>
                <StatusBadge status={call.status} />
                {call.error_message ? <span className="inline-error"> {call.error_message}</span> : null}
              </td>
              <td className="num">
                {formatCount(call.input_tokens)} / {formatCount(call.output_tokens)}
              </td>
              <td className="num">{formatUsd(call.cost_usd)}</td>
              <td className="num">{formatMs(call.latency_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ModelCalls({ calls }: { calls: Loaded<LlmCallList> }) {
  return (
    <section aria-labelledby="calls-title">
      <h2 id="calls-title">Model calls</h2>
      {calls.data ? (
        <>
          <CallsTable calls={calls.data.items} />
          {calls.data.items.length > 0 ? (
            <p className="muted">
              {formatCount(calls.data.tokens)} tokens, {formatUsd(calls.data.cost_usd)} in all.
            </p>
          ) : null}
        </>
      ) : calls.error ? (
        <ErrorBox error={calls.error} />
      ) : (
        <Loading />
      )}
    </section>
  );
}
