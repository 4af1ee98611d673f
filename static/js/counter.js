// Counters under long text fields (components/forms.html): "n of at most max characters",
// updated as the person types; past the limit the counter turns red and says so. The
// server refuses an over-long text with the field's message: nothing is ever cut off.
(function () {
  "use strict";
  function update(field, counter) {
    const max = Number(field.dataset.maxlength);
    const n = [...field.value].length;  // characters, not UTF-16 units (Chinese is one each)
    const template = counter.dataset.template || counter.textContent;
    counter.dataset.template = template;
    counter.textContent = template.replace(/\d+/, String(n));  // the first number is the count
    counter.classList.toggle("over", n > max);
    if (n > max) field.setAttribute("aria-invalid", "true");
  }
  function bind(root) {
    root.querySelectorAll("[data-counter-for]").forEach((counter) => {
      const field = document.getElementById(counter.dataset.counterFor);
      if (!field || field.dataset.counted) return;
      field.dataset.counted = "1";
      field.addEventListener("input", () => update(field, counter));
    });
  }
  document.addEventListener("DOMContentLoaded", () => bind(document));
  document.addEventListener("htmx:afterSwap", (e) => bind(e.target));
})();
