// Default looks for the components, as one stylesheet added to the document once. Every rule is
// wrapped in :where(), which has no specificity, so any class of the app's (one class is enough)
// overrides it; `unstyled` on a component, or an app that never renders one, adds nothing.
const CSS = `
:where(.rt-notification-center){position:relative;display:inline-block}
:where(.rt-bell){position:relative;display:inline-flex;align-items:center;justify-content:center;width:36px;height:36px;padding:0;border:1px solid #d0d5e2;border-radius:8px;background:#fff;color:#1c2333;cursor:pointer}
:where(.rt-bell svg){width:20px;height:20px}
:where(.rt-badge){position:absolute;top:-6px;right:-8px;min-width:18px;height:18px;padding:0 5px;border-radius:9px;background:#e03131;color:#fff;font-size:11px;font-weight:700;line-height:18px;text-align:center}
:where(.rt-panel){position:fixed;z-index:1000;box-sizing:border-box;overflow:auto;background:#fff;color:#1c2333;border:1px solid #e3e7ef;border-radius:10px;box-shadow:0 12px 32px rgba(0,0,0,.18);font:14px/1.4 system-ui,sans-serif}
:where(.rt-panel-head){display:flex;justify-content:space-between;align-items:center;gap:8px;padding:8px 12px;border-bottom:1px solid #e3e7ef}
:where(.rt-list){list-style:none;margin:0;padding:0}
:where(.rt-item){padding:8px 12px;border-bottom:1px solid #eef0f5;cursor:pointer}
:where(.rt-item.rt-unread){background:#f3f6ff}
:where(.rt-item.rt-unread .rt-title){font-weight:700}
:where(.rt-message){color:#5c6478;font-size:13px}
:where(.rt-meta){color:#8a91a3;font-size:12px}
:where(.rt-link){color:#3b5bdb}
:where(.rt-actions){display:flex;gap:6px;margin-top:4px}
:where(.rt-priority){font-size:10px;font-weight:700;margin-left:6px;padding:1px 5px;border-radius:4px;background:#edf0f5;color:#5c6478}
:where(.rt-priority.rt-HIGH){background:#fff0e6;color:#d9480f}
:where(.rt-priority.rt-URGENT){background:#ffe3ec;color:#c2255c}
:where(.rt-empty){padding:8px 12px;color:#6b7487}
:where(.rt-more){display:block;width:100%;padding:8px;border:0;background:none;color:#3b5bdb;cursor:pointer}
:where(.rt-toasts){position:fixed;right:16px;bottom:16px;display:flex;flex-direction:column;gap:8px;z-index:1001;max-width:calc(100vw - 32px)}
:where(.rt-toast){box-sizing:border-box;width:320px;max-width:100%;display:flex;justify-content:space-between;gap:8px;background:#fff;color:#1c2333;border-left:5px solid #e8590c;border-radius:8px;padding:10px 12px;box-shadow:0 8px 24px rgba(0,0,0,.18);cursor:pointer;font:14px/1.4 system-ui,sans-serif}
:where(.rt-toast.rt-URGENT){border-left-color:#c2255c}
:where(.rt-dismiss){border:0;background:none;font-size:18px;line-height:1;cursor:pointer;align-self:flex-start}
`;

let added = false;

export function addDefaultStyles() {
  if (added || typeof document === "undefined") return;
  added = true;
  const style = document.createElement("style");
  style.dataset.realtimeServer = "react";
  style.textContent = CSS;
  document.head.prepend(style); // first, so the app's own stylesheets come later and win ties
}
