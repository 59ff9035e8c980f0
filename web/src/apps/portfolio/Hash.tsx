// A hash or an id, short, with its full value in the tooltip.
export function Hash({ value }: { value: string | null }) {
  if (!value) return <span className="muted">none</span>;
  return <code title={value}>{value.length > 12 ? value.slice(0, 12) : value}</code>;
}
