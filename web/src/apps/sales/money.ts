// Money and fractions as the sales pages show them: the API's decimal strings, grouped and never
// put through a float (the server computes every amount with Decimal).
import { formatDecimal } from "../portfolio/figures";

/** "1234.5" in EUR as "1,234.5 EUR": the API already rounds to the currency's minor unit. */
export function money(amount: string | null, currency: string): string {
  return amount === null ? "—" : `${formatDecimal(amount)} ${currency}`;
}

/** A discount fraction ("0.15") as a percentage ("15%"), by moving the decimal point. */
export function percentOf(fraction: string): string {
  const match = /^(\d*)(?:\.(\d*))?$/.exec(fraction.trim());
  if (!match) return fraction;
  const whole = match[1] ?? "";
  const digits = `${(match[2] ?? "").padEnd(2, "0")}`;
  const percent = `${whole}${digits.slice(0, 2)}`.replace(/^0+(?=\d)/, "");
  const rest = digits.slice(2).replace(/0+$/, "");
  return `${percent}${rest ? `.${rest}` : ""}%`;
}

/** A percentage typed by a person ("15", "7.5") as the API's fraction ("0.15", "0.075"). */
export function fractionOf(percent: string): string | null {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(percent.trim());
  if (!match) return null;
  const whole = (match[1] ?? "").padStart(3, "0");
  const digits = `${whole.slice(0, -2)}.${whole.slice(-2)}${match[2] ?? ""}`.replace(/^0+(?=\d)/, "");
  return digits.replace(/\.?0+$/, "") || "0";
}

/** The amounts per currency of a board column, as "1,000.00 EUR · 20 USD". */
export function sums(amounts: Record<string, string>): string {
  const entries = Object.entries(amounts);
  return entries.length === 0 ? "nothing" : entries.map(([currency, amount]) => money(amount, currency)).join(" · ");
}
