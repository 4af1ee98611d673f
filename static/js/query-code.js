/* The query page (/query): the printed slip's QR code opens /query#code=482109375520.
   A fragment never reaches the server (nor its logs): this script puts the code into
   the form, drops the fragment from the address bar and history, and puts the focus on
   the button, so the petitioner only has to press it. It also offers a switch to a
   letter keyboard for the longer codes of older receipts. */
(function () {
  "use strict";
  var input = document.getElementById("code");
  if (!input) { return; }
  var match = /(?:^#|&)code=([0-9A-Za-z \-]{1,120})/.exec(decodeURIComponent(location.hash || ""));
  if (match) {
    var digits = match[1].replace(/[^0-9A-Za-z]/g, "");
    input.value = /^\d{12}$/.test(digits)
      ? digits.replace(/(\d{4})(?=\d)/g, "$1 ") : match[1];
    history.replaceState(null, "", location.pathname + location.search);
    var button = input.form && input.form.querySelector("button[type=submit]");
    if (button) { button.focus(); }
  }
  var letters = document.getElementById("code-letters");
  if (letters) {
    letters.parentNode.hidden = false;
    letters.addEventListener("click", function () {
      input.setAttribute("inputmode", "text");
      input.focus();
    });
  }
}());
