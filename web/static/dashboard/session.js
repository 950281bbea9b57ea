// Sign-in shared by the dashboard and the admin page: a token from ?token=, localStorage or the form
// (dev mode offers sample users), and the server's public config.
import { decodeToken } from "../realtime.js";

const KEY = "realtime.token";
const $ = (id) => document.getElementById(id);

export async function loadConfig() {
  try {
    const response = await fetch("/api/dashboard/config");
    return response.ok ? await response.json() : { dev: false, demo: false, rooms: [] };
  } catch {
    return { dev: false, demo: false, rooms: [] };
  }
}

export function usable(token) {
  const claims = token && decodeToken(token);
  return Boolean(claims && claims.sub && (!claims.exp || claims.exp * 1000 > Date.now() + 5000));
}

export function signOut() {
  localStorage.removeItem(KEY);
  location.href = location.pathname;
}

export function remember(token) {
  localStorage.setItem(KEY, token);
}

/** A token to use now: ?token= (then dropped from the address bar), else the stored one; null if none. */
export function storedToken() {
  const params = new URLSearchParams(location.search);
  const given = params.get("token");
  if (given) {
    params.delete("token");
    history.replaceState(null, "", location.pathname + (params.size ? `?${params}` : "") + location.hash);
    if (usable(given)) {
      remember(given);
      return given;
    }
  }
  const stored = localStorage.getItem(KEY);
  return usable(stored) ? stored : null;
}

/** Show the sign-in form (and, in dev mode, sample users); resolves with the chosen token. */
export function askForToken(config, message = "") {
  $("signin").hidden = false;
  const error = $("signin-error");
  error.hidden = !message;
  error.textContent = message;
  return new Promise((resolve) => {
    const done = (token) => {
      remember(token);
      $("signin").hidden = true;
      resolve(token);
    };
    $("token-submit").onclick = () => {
      const token = $("token-input").value.trim();
      if (usable(token)) done(token);
      else {
        error.hidden = false;
        error.textContent = "That is not a valid, unexpired token.";
      }
    };
    if (config.dev) {
      fetch("/api/dev/tokens").then((r) => r.json()).then(({ users }) => {
        $("dev-users").hidden = false;
        const box = $("dev-user-buttons");
        box.replaceChildren(...users.map((user) => {
          const button = document.createElement("button");
          button.textContent = user.name;
          button.dataset.sub = user.sub;
          button.onclick = () => done(user.token);
          return button;
        }));
      }).catch(() => {});
    }
  });
}

/** Names of the sample users in dev mode (sub -> name), else empty. */
export async function userNames(config) {
  if (!config.dev) return {};
  try {
    const { users } = await (await fetch("/api/dev/tokens")).json();
    return Object.fromEntries(users.map((u) => [u.sub, u.name.replace(/ \(.*\)$/, "")]));
  } catch {
    return {};
  }
}
