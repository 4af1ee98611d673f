// What the pages used to do with inline handlers, which the Content-Security-Policy
// forbids: a form with data-confirm asks first; a button with data-print prints the page;
// a button with data-dismiss closes the message it sits in.
(() => {
  "use strict";

  // capture phase: runs before htmx's own submit listener on a form, so a refusal
  // stops an hx-post form as well as a plain one
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
    if (!window.confirm(form.dataset.confirm || "")) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (target) {
      event.preventDefault();
      window.print();
    }
    // a message's close button: the message stays in view until it is read and closed
    const close = event.target instanceof Element ? event.target.closest("[data-dismiss]") : null;
    if (close && close.parentElement) close.parentElement.remove();
  });

  // a form that came back with errors: the first field in error gets the focus, so a
  // clerk on a phone lands on it (and its message) instead of the note at the top
  document.addEventListener("DOMContentLoaded", () => {
    const first = document.querySelector('form [aria-invalid="true"]');
    if (first instanceof HTMLElement) first.focus();
  });
})();
