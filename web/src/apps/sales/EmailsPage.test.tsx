import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { formatTime } from "../../format";
import { serve, viewer } from "./fakeApi.testing";
import { followUp, followUpDetail, welcome } from "./moneyData.testing";
import { AT, S } from "./testData.testing";

function rows(table: HTMLElement): string[][] {
  return within(table)
    .getAllByRole("row")
    .map((row) => Array.from(row.children).map((cell) => cell.textContent ?? ""));
}

afterEach(() => {
  cleanup();
  window.history.pushState(null, "", "/");
});

describe("the emails page", () => {
  it("lists the log, filters it and loads more", async () => {
    serve("/apps/sales/emails", {
      [`GET ${S}/emails`]: [200, { items: [followUp], next_cursor: "c1" }],
      [`GET ${S}/emails?cursor=c1`]: [200, { items: [welcome], next_cursor: null }],
      [`GET ${S}/emails?status=failed`]: [200, { items: [], next_cursor: null }],
      [`GET ${S}/emails?status=failed&deal_id=d1`]: [200, { items: [{ ...followUp, status: "failed" }], next_cursor: null }],
    });
    const table = await screen.findByRole("table", { name: "Emails" });
    fireEvent.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(rows(screen.getByRole("table", { name: "Emails" }))).toHaveLength(3));
    expect(rows(table)).toEqual([
      ["Subject", "Status", "To", "Sent", "Delivered", "Replied"],
      ["Re: Your quote", "unconfirmed", "ana@globex.com", "—", "no", "no"],
      ["Your quote", "sent", "ana@globex.com", formatTime(AT), `to the catcher ${formatTime(AT)}`, formatTime("2026-12-01T12:00:00Z")],
    ]);
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "failed" } });
    expect(await screen.findByText("No email matches these filters.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Deal id"), { target: { value: " d1 " } });
    const filtered = await screen.findByRole("table", { name: "Emails" });
    expect(rows(filtered).slice(1)).toEqual([["Re: Your quote", "failed", "ana@globex.com", "—", "no", "no"]]);
  });

  it("opens an email's thread in order with the raw message, and resends it after confirming", async () => {
    const sent = serve("/apps/sales/emails?email=e2", {
      [`GET ${S}/emails/e2`]: [
        [200, followUpDetail],
        [200, { ...followUpDetail, status: "sent", attempts: 4 }],
      ],
      [`POST ${S}/emails/e2/resend`]: [200, { ...followUp, status: "sent" }],
    });
    expect(await screen.findByRole("heading", { level: 1, name: "Re: Your quote" })).toBeTruthy();
    const facts = () => document.querySelector('dl[aria-label="Email"]')?.textContent;
    expect(facts()).toBe(
      "Statusunconfirmed after 3 attemptsFromsales@acme.exampleToana@globex.comDeliverednoRepliedyesDealopen the deal",
    );
    const thread = screen.getByRole("list", { name: "Thread" });
    expect(within(thread).getAllByRole("heading").map((heading) => heading.textContent)).toEqual([
      `Sent to ana@globex.com · ${formatTime(AT)} sent`,
      `Reply from ana@globex.com · ${formatTime("2026-12-01T12:00:00Z")}`,
      `Sent to ana@globex.com · ${formatTime("2026-12-02T10:00:00Z")} unconfirmed`,
    ]);
    expect(within(thread).getByText("Raw message").closest("details")?.querySelector("pre")?.textContent).toBe(followUpDetail.raw);
    fireEvent.click(screen.getByRole("button", { name: "Resend" }));
    expect(sent).toEqual([]);
    fireEvent.click(screen.getByRole("button", { name: "Yes, resend" }));
    await waitFor(() =>
      expect(facts()).toBe("Statussent after 4 attemptsFromsales@acme.exampleToana@globex.comDeliverednoRepliedyesDealopen the deal"),
    );
    expect(sent).toEqual([{ method: "POST", path: `${S}/emails/e2/resend`, body: {}, type: "application/json" }]);
    expect(screen.queryByRole("button", { name: /resend/i })).toBeNull();
  });

  it("offers no resend to a viewer", async () => {
    serve("/apps/sales/emails?email=e2", { [`GET ${S}/emails/e2`]: [200, followUpDetail] }, viewer);
    expect(await screen.findByRole("heading", { level: 1, name: "Re: Your quote" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Resend" })).toBeNull();
  });
});
