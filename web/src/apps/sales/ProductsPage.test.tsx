import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { serve, viewer } from "./fakeApi.testing";
import { legacy, onboarding, S, seats } from "./testData.testing";

const PAGE = "/apps/sales/products";

function rows(table: HTMLElement): string[][] {
  return within(table)
    .getAllByRole("row")
    .map((row) => Array.from(row.children).map((cell) => cell.textContent ?? ""));
}

afterEach(() => {
  cleanup();
  window.history.pushState(null, "", "/");
});

describe("the products page", () => {
  it("lists the catalog by SKU and shows the offered or retired products", async () => {
    serve(PAGE, {
      [`GET ${S}/products`]: [200, [onboarding, legacy, seats]],
      [`GET ${S}/products?active=false`]: [200, [legacy]],
    });
    const table = await screen.findByRole("table", { name: "Catalog" });
    expect(rows(table)).toEqual([
      ["SKU", "Name", "Unit price", "Active", "Actions"],
      ["ONB", "Onboarding", "2,500.00 EUR", "offered", "Retire ONB"],
      ["OLD", "Legacy plan", "50.00 EUR", "retired", ""],
      ["SEAT", "Seat licence · one user for a year", "100.00 EUR", "offered", "Retire SEAT"],
    ]);
    fireEvent.change(screen.getByLabelText("Show"), { target: { value: "false" } });
    await waitFor(() => expect(rows(screen.getByRole("table", { name: "Catalog" })).map((row) => row[0])).toEqual(["SKU", "OLD"]));
  });

  it("adds a product", async () => {
    const sent = serve(PAGE, {
      [`GET ${S}/products`]: [
        [200, []],
        [200, [seats]],
      ],
      [`POST ${S}/products`]: [201, seats],
    });
    expect(await screen.findByText("The catalog is empty: add a product.")).toBeTruthy();
    const form = screen.getByRole("form", { name: "New product" });
    fireEvent.change(within(form).getByLabelText("SKU"), { target: { value: " SEAT " } });
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "Seat licence" } });
    fireEvent.change(within(form).getByLabelText("Description"), { target: { value: "one user for a year" } });
    fireEvent.change(within(form).getByLabelText("Unit price"), { target: { value: "100.00" } });
    fireEvent.change(within(form).getByLabelText("Currency"), { target: { value: "eur" } });
    fireEvent.click(within(form).getByRole("button", { name: "Add product" }));
    const table = await screen.findByRole("table", { name: "Catalog" });
    expect(rows(table)[1]).toEqual(["SEAT", "Seat licence · one user for a year", "100.00 EUR", "offered", "Retire SEAT"]);
    expect((within(form).getByLabelText("SKU") as HTMLInputElement).value).toBe("");
    expect(sent).toEqual([
      {
        method: "POST",
        path: `${S}/products`,
        body: { sku: "SEAT", name: "Seat licence", description: "one user for a year", unit_price: "100.00", currency: "EUR" },
        type: "application/json",
      },
    ]);
  });

  it("says why a product was not added, keeping what was typed", async () => {
    const taken = { error: { code: "conflict", message: "a product with SKU 'SEAT' already exists", details: {} } };
    serve(PAGE, { [`GET ${S}/products`]: [200, [seats]], [`POST ${S}/products`]: [409, taken] });
    const form = await screen.findByRole("form", { name: "New product" });
    fireEvent.change(within(form).getByLabelText("SKU"), { target: { value: "SEAT" } });
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "Seats" } });
    fireEvent.change(within(form).getByLabelText("Unit price"), { target: { value: "90" } });
    fireEvent.submit(form);
    expect((await within(form).findByRole("alert")).textContent).toBe("The product was not addeda product with SKU 'SEAT' already exists");
    expect((within(form).getByLabelText("SKU") as HTMLInputElement).value).toBe("SEAT");
  });

  it("retires a product", async () => {
    const sent = serve(PAGE, {
      [`GET ${S}/products`]: [
        [200, [seats]],
        [200, [{ ...seats, active: false }]],
      ],
      [`POST ${S}/products/pr1/retire`]: [200, { ...seats, active: false }],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Retire SEAT" }));
    await waitFor(() => expect(rows(screen.getByRole("table", { name: "Catalog" }))[1]).toEqual(["SEAT", "Seat licence · one user for a year", "100.00 EUR", "retired", ""]));
    expect(sent).toEqual([{ method: "POST", path: `${S}/products/pr1/retire`, body: {}, type: "application/json" }]);
  });

  it("lets a viewer read the catalog but not change it", async () => {
    serve(PAGE, { [`GET ${S}/products`]: [200, [seats]] }, viewer);
    const table = await screen.findByRole("table", { name: "Catalog" });
    expect(rows(table)[1]).toEqual(["SEAT", "Seat licence · one user for a year", "100.00 EUR", "offered", ""]);
    expect(screen.queryByRole("form", { name: "New product" })).toBeNull();
  });
});
