// Submits the form_post page's form as soon as it loads (OAuth 2.0 Form Post
// Response Mode). A file of its own because the pages' Content-Security-Policy
// allows no inline script; without JavaScript the page's button does the same.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("form-post");
  if (form) {
    form.submit();
  }
});
