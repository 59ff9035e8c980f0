import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Api } from "./api";
import { App } from "./App";
import { SessionProvider } from "./session";
import "./styles.css";
import { applyTheme, storedTheme, systemTheme } from "./theme";

applyTheme(storedTheme() ?? systemTheme());

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <SessionProvider api={new Api()}>
        <App />
      </SessionProvider>
    </StrictMode>,
  );
}
