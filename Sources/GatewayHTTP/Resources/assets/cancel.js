/* The citizen's cancel page (GET /cancel/{token}). Loading the page never cancels: mail scanners
   follow links. Only the button does, with POST /v1/lobby/{token}/cancel. */
(function () {
  "use strict";

  /* i18n:start */
  var I18N = {
    "pt-PT": {
      "skipLink": "Saltar para o conteúdo",
      "serviceName": "Atendimento por videochamada",
      "serviceLabel": "Serviço",
      "whenLabel": "Data e hora",
      "askTitle": "Quer cancelar este atendimento?",
      "askText": "Se cancelar, a sua vaga fica livre para outra pessoa e o link da videochamada deixa de funcionar. Nada é cancelado até carregar no botão.",
      "confirmCancel": "Cancelar o atendimento",
      "cancelling": "A cancelar…",
      "doneTitle": "O atendimento foi cancelado",
      "doneText": "A sua vaga ficou livre. Se ainda precisar de ajuda, faça uma nova marcação ou ligue para a linha da Segurança Social.",
      "alreadyCancelled": "Este atendimento já estava cancelado. Se ainda precisar de ajuda, faça uma nova marcação ou ligue para a linha da Segurança Social.",
      "closedTitle": "Este atendimento já não pode ser cancelado",
      "closedText": "O atendimento já terminou ou o período da marcação já passou.",
      "unknownLink": "Este link não é válido. Confirme o link no e-mail ou ligue {phone}.",
      "rateLimited": "Fez demasiados pedidos seguidos. Aguarde um minuto e tente de novo.",
      "networkError": "Não foi possível cancelar. Confirme a ligação à internet e tente de novo.",
      "failed": "Não foi possível cancelar. Tente de novo ou ligue {phone}.",
      "helpLead": "Precisa de ajuda? Ligue",
      "helpAbroad": "Do estrangeiro, junte o indicativo +351."
    },
    "en": {
      "skipLink": "Skip to content",
      "serviceName": "Video call service",
      "serviceLabel": "Service",
      "whenLabel": "Date and time",
      "askTitle": "Do you want to cancel this appointment?",
      "askText": "If you cancel, your slot is freed for someone else and the video call link stops working. Nothing is cancelled until you press the button.",
      "confirmCancel": "Cancel the appointment",
      "cancelling": "Cancelling…",
      "doneTitle": "The appointment was cancelled",
      "doneText": "Your slot has been freed. If you still need help, book a new appointment or call the Social Security line.",
      "alreadyCancelled": "This appointment was already cancelled. If you still need help, book a new appointment or call the Social Security line.",
      "closedTitle": "This appointment can no longer be cancelled",
      "closedText": "The appointment has already ended or its time has passed.",
      "unknownLink": "This link is not valid. Check the link in the e-mail or call {phone}.",
      "rateLimited": "Too many attempts in a row. Wait a minute and try again.",
      "networkError": "The appointment could not be cancelled. Check your internet connection and try again.",
      "failed": "The appointment could not be cancelled. Try again or call {phone}.",
      "helpLead": "Need help? Call",
      "helpAbroad": "From abroad, add the country code +351."
    }
  };
  /* i18n:end */

  var main = document.getElementById("cancel");
  if (!main) {
    return;
  }
  var lang = main.getAttribute("data-lang") === "en" ? "en" : "pt-PT";
  var token = main.getAttribute("data-token") || "";
  var helpPhone = main.getAttribute("data-help-phone") || "300 502 502";
  var state = main.getAttribute("data-state") || "";
  var busy = false;

  function $(id) {
    return document.getElementById(id);
  }

  function t(key, vars) {
    return GatewayPage.translate(I18N, lang, key, vars);
  }

  function applyStaticTexts() {
    GatewayPage.applyStaticTexts(I18N, lang);
  }

  function show(id, focus) {
    var ids = ["cancel-ask", "cancel-done", "cancel-closed"];
    for (var i = 0; i < ids.length; i++) {
      $(ids[i]).hidden = ids[i] !== id;
    }
    main.setAttribute("data-view", id);
    if (focus) {
      var heading = $(id).querySelector("h2");
      if (heading) {
        heading.focus();
      }
    }
  }

  function showDone(already, focus) {
    $("done-text").textContent = already ? t("alreadyCancelled") : t("doneText");
    show("cancel-done", focus);
    var status = $("status");
    status.textContent = "";
    window.setTimeout(function () {
      status.textContent = $("done-title").textContent;
    }, 50);
  }

  function setError(text) {
    $("cancel-error").textContent = text || "";
  }

  function readProblem(response) {
    return GatewayPage.readProblem(response);
  }

  function onConfirm() {
    if (busy) {
      return;
    }
    busy = true;
    setError("");
    var button = $("confirm-cancel");
    button.setAttribute("aria-disabled", "true");
    button.textContent = t("cancelling");
    fetch("/v1/lobby/" + encodeURIComponent(token) + "/cancel", {
      method: "POST",
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store"
    })
      .then(function (response) {
        if (response.ok) {
          showDone(false, true);
          return null;
        }
        return readProblem(response).then(function (problem) {
          var code = problem.code || "";
          if (response.status === 410 || code === "cancelled" || code === "closed") {
            if (code === "closed") {
              show("cancel-closed", true);
            } else {
              showDone(true, true);
            }
          } else if (response.status === 404 || code === "unknown_token") {
            setError(t("unknownLink", { phone: helpPhone }));
          } else if (response.status === 429 || code === "rate_limited") {
            setError(t("rateLimited"));
          } else {
            setError(t("failed", { phone: helpPhone }));
          }
        });
      })
      .catch(function () {
        setError(t("networkError"));
      })
      .then(function () {
        busy = false;
        button.removeAttribute("aria-disabled");
        button.textContent = t("confirmCancel");
      });
  }

  applyStaticTexts();
  var tels = document.querySelectorAll("a.tel");
  for (var i = 0; i < tels.length; i++) {
    tels[i].setAttribute("href", "tel:" + (tels[i].textContent || helpPhone).replace(/[^+0-9]/g, ""));
  }
  $("confirm-cancel").addEventListener("click", onConfirm);

  if (state === "cancelled") {
    showDone(true, false);
  } else if (state === "completed" || state === "no_show" || state === "failed") {
    show("cancel-closed", false);
  } else {
    show("cancel-ask", false);
  }
})();
