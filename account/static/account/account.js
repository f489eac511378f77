/*
 * The account page: log in, log out and sign up through AJAX POST only.
 *
 * The page holds both behaviours (#logged-out with the forms, #logged-in with
 * "Logged as <user>" and the Logout button) and switches between them in place;
 * it never reloads. Every answer carries the current CSRF token, which Django
 * rotates at login and logout, so the next POST always sends a valid one.
 */
(function ($) {
  "use strict";

  var $root = $("#account");
  if (!$root.length) {
    return;
  }
  var csrfToken = $root.find("input[name=csrfmiddlewaretoken]").val();

  /* The cookie is the freshest token (another tab may have logged in meanwhile). */
  function currentCsrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : csrfToken;
  }

  function post(url, data) {
    return $.ajax({
      url: url,
      method: "POST",
      data: data,
      dataType: "json",
      headers: { "X-CSRFToken": currentCsrfToken() }
    }).done(function (answer) {
      if (answer && answer.csrfToken) {
        csrfToken = answer.csrfToken;
      }
    });
  }

  /* Errors arrive as {field: [messages]}; "__all__" holds the form's own errors. */
  function showErrors($form, $box, answer) {
    clearErrors($form, $box);
    var errors = (answer && answer.errors) || {};
    var $list = $("<ul class='list-unstyled mb-2'></ul>");
    $.each(errors, function (field, messages) {
      var $input = $form.find("[name='" + field + "']");
      var label = $input.length ? $form.find("label[for='" + $input.attr("id") + "']").text() : "";
      $input.addClass("is-invalid");
      $.each(messages, function (_, message) {
        $("<li class='form-error'></li>")
          .text(label ? label + ": " + message : message)
          .appendTo($list);
      });
    });
    if (!$list.children().length) {
      $("<li class='form-error'></li>")
        .text((answer && answer.error) || "Something went wrong, please try again.")
        .appendTo($list);
    }
    $box.append($list);
  }

  function clearErrors($form, $box) {
    $box.empty();
    $form.find(".is-invalid").removeClass("is-invalid");
  }

  function resetForms() {
    $root.find("form").each(function () {
      this.reset();
    });
    clearErrors($("#login-form"), $("#login-errors"));
    clearErrors($("#signup-form"), $("#signup-errors"));
  }

  function showLoggedIn(answer) {
    $("#logged-user").text(answer.username);
    var next = answer.next || $root.data("next-url");
    $("#next-link").attr("href", next || "").prop("hidden", !next);
    $("#logout-errors").empty();
    resetForms();
    $("#logged-out").prop("hidden", true);
    $("#logged-in").prop("hidden", false);
    loadDevices();
  }

  function showLoggedOut() {
    $("#logged-user").text("");
    resetForms();
    $("#logged-in").prop("hidden", true);
    $("#logged-out").prop("hidden", false);
  }

  /* Login and signup forms work the same way: POST, then switch or show errors. */
  function bindForm(formSelector, errorsSelector, urlKey) {
    var $form = $(formSelector);
    var $box = $(errorsSelector);
    $form.on("submit", function (event) {
      event.preventDefault();
      var $button = $form.find("[type=submit]").prop("disabled", true);
      post($root.data(urlKey), $form.serialize() + "&next=" + encodeURIComponent($root.data("next-url") || ""))
        .done(showLoggedIn)
        .fail(function (xhr) {
          showErrors($form, $box, xhr.responseJSON);
        })
        .always(function () {
          $button.prop("disabled", false);
        });
    });
  }

  /* -- devices that get push notifications (#devices) -- */

  var $devices = $("#devices");

  function deviceUrl(key, id) {
    return String($devices.data(key)).replace("/0/", "/" + encodeURIComponent(id) + "/");
  }

  function showDevices(answer) {
    var $list = $("#device-list").empty();
    $("#push-off").prop("hidden", !!answer.push);
    $("#no-devices").prop("hidden", !answer.push || answer.devices.length > 0);
    $.each(answer.devices, function (_, device) {
      var $item = $("<li class='list-group-item d-flex flex-wrap align-items-center gap-2 device'></li>")
        .attr("data-device", String(device.id));
      $("<span class='device-name flex-grow-1'></span>").text(device.name).appendTo($item);
      $("<small class='text-body-secondary'></small>")
        .text("added " + new Date(device.created).toLocaleDateString()).appendTo($item);
      $("<button type='button' class='btn btn-sm btn-outline-primary device-test'></button>")
        .text("Send a test notification").prop("disabled", !answer.push).appendTo($item);
      $("<button type='button' class='btn btn-sm btn-outline-danger device-remove'></button>")
        .text("Remove").attr("aria-label", "Remove " + device.name).appendTo($item);
      $item.appendTo($list);
    });
  }

  function loadDevices() {
    $.ajax({ url: $devices.data("devices-url"), dataType: "json" }).done(showDevices);
  }

  $devices.on("click", ".device-test, .device-remove", function () {
    var remove = $(this).hasClass("device-remove");
    var id = $(this).closest(".device").attr("data-device");
    var $status = $("#device-status").text("");
    post(deviceUrl(remove ? "remove-url" : "test-url", id), {})
      .done(function () {
        $status.text(remove ? "Removed." : "Sent: it should show on that device in a moment.");
        if (remove) {
          loadDevices();
        }
      })
      .fail(function (xhr) {
        $status.text((xhr.responseJSON && xhr.responseJSON.error) || "That did not work, please try again.");
      });
  });

  if (!$("#logged-in").prop("hidden")) {
    loadDevices();
  }

  bindForm("#login-form", "#login-errors", "login-url");
  bindForm("#signup-form", "#signup-errors", "signup-url");

  $("#logout-button").on("click", function () {
    var $button = $(this).prop("disabled", true);
    post($root.data("logout-url"), {})
      .done(showLoggedOut)
      .fail(function (xhr) {
        $("#logout-errors").text(
          (xhr.responseJSON && xhr.responseJSON.error) || "Could not log out, please try again."
        );
      })
      .always(function () {
        $button.prop("disabled", false);
      });
  });
})(jQuery);
