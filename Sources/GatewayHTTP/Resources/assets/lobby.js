/* The citizen's waiting room (GET /join/{token}).
   Flow: before the join window → code entry → waiting (messages, queue note, timer) → admitted
   (a link the citizen follows), or ended / cancelled / closed. Plain browser JavaScript, no build. */
(function () {
  "use strict";

  /* i18n:start */
  var I18N = {
    "pt-PT": {
      "skipLink": "Saltar para o conteúdo",
      "serviceName": "Atendimento por videochamada",
      "serviceLabel": "Serviço",
      "whenLabel": "Data e hora",
      "notRecorded": "A chamada não é gravada.",
      "beforeTitle": "A sua sessão ainda não está disponível",
      "opensSoon": "A sua sessão fica disponível 30 minutos antes da hora marcada.",
      "opensAt": "A sua sessão fica disponível às {time}.",
      "opensOn": "A sua sessão fica disponível a {date}, às {time}.",
      "countdownLabel": "Falta:",
      "days": "{n} dias",
      "oneDay": "1 dia",
      "beforeHint": "Quando chegar a hora, aparece aqui o campo para o código de validação. Enquanto espera, pode testar a câmara e o microfone.",
      "codeTitle": "Introduza o código de validação",
      "codeAgain": "Para voltar à sala de espera, introduza de novo o código. Não perde o seu lugar.",
      "codeLabel": "Código de validação (6 algarismos)",
      "codeHint": "Está no e-mail em que recebeu o link para esta página.",
      "codeSubmit": "Entrar na sala de espera",
      "codeFormat": "Escreva os 6 algarismos do código, sem espaços.",
      "codeWrongMany": "Código errado. Restam {n} tentativas.",
      "codeWrongOne": "Código errado. Resta 1 tentativa.",
      "codeWrongNone": "Código errado. Não restam tentativas.",
      "codeLocked": "Demasiadas tentativas com o código errado. Pode tentar de novo a partir das {time}.",
      "codeLockedNoTime": "Demasiadas tentativas com o código errado. Tente de novo mais tarde.",
      "codeTooEarly": "A sessão ainda não está disponível. Fica disponível às {time}.",
      "codeClosed": "Esta sessão já terminou e não é possível entrar.",
      "codeCancelled": "Este atendimento foi cancelado.",
      "codeUnknown": "Este link não é válido. Confirme o link no e-mail ou ligue {phone}.",
      "codeRateLimited": "Fez demasiados pedidos seguidos. Aguarde um minuto e tente de novo.",
      "codeNetwork": "Não foi possível verificar o código. Confirme a ligação à internet e tente de novo.",
      "codeFailed": "Não foi possível verificar o código. Tente de novo ou ligue {phone}.",
      "codeReady": "Já pode introduzir o código de validação.",
      "ticketExpired": "Para voltar à sala de espera, introduza de novo o código.",
      "waitingTitle": "A aguardar o seu técnico",
      "waitingText": "O seu técnico vai admiti-lo(a) na videochamada. Mantenha esta página aberta.",
      "waitedLabel": "Tempo de espera:",
      "waitingAnnounce": "Está na sala de espera. O seu técnico vai admiti-lo(a) em breve.",
      "positionNext": "É a próxima pessoa a ser atendida.",
      "positionBusy": "O seu técnico está a terminar outro atendimento.",
      "fallbackPhone": "Vai receber uma chamada da Segurança Social para o(a) ajudar.",
      "fallbackEmail": "Enviámos-lhe um e-mail com ajuda para entrar na videochamada.",
      "connectionLost": "A ligação foi interrompida. A tentar de novo…",
      "messagesTitle": "Mensagens do seu técnico",
      "noMessages": "Ainda não há mensagens.",
      "admittedTitle": "O seu técnico está pronto",
      "admittedText": "Carregue no botão para entrar na videochamada.",
      "joinLink": "Entrar na videochamada",
      "admittedReminder": "O seu técnico vai confirmar a sua identificação por conversa. A chamada não é gravada.",
      "admittedAnnounce": "O seu técnico está pronto. Carregue em «Entrar na videochamada».",
      "rejoinHint": "Saiu da chamada ou a ligação deixou de funcionar? Peça uma ligação nova.",
      "rejoinButton": "Pedir uma ligação nova",
      "rejoinReady": "A ligação nova está pronta. Carregue em «Entrar na videochamada».",
      "rejoinFailed": "Não foi possível obter uma ligação nova. Tente de novo dentro de momentos.",
      "endedTitle": "O atendimento terminou",
      "endedText": "Obrigado pelo seu contacto.",
      "endedRescheduled": "O atendimento vai ser reagendado. Obrigado pelo seu contacto.",
      "cancelledTitle": "Este atendimento foi cancelado",
      "cancelledText": "Se ainda precisar de ajuda, faça uma nova marcação ou ligue para a linha da Segurança Social.",
      "closedTitle": "Esta sessão já não está disponível",
      "closedText": "O período da sua marcação já terminou. Se ainda precisar de ajuda, faça uma nova marcação ou ligue para a linha da Segurança Social.",
      "failedText": "Não foi possível preparar a videochamada. Pedimos desculpa. Ligue para a linha da Segurança Social para ser atendido(a).",
      "deviceTitle": "Teste a câmara e o microfone",
      "deviceText": "O navegador vai pedir autorização para usar a câmara e o microfone. A imagem e o som ficam só no seu aparelho: nada é enviado nem gravado.",
      "deviceTest": "Testar câmara e microfone",
      "deviceStop": "Parar o teste",
      "micLevel": "Nível do microfone (fale para o ver mexer)",
      "deviceAsking": "A pedir autorização para usar a câmara e o microfone…",
      "deviceOk": "A câmara e o microfone estão a funcionar. Deve ver a sua imagem; fale e veja o nível do microfone a mexer.",
      "deviceNoCamera": "O microfone está a funcionar, mas não encontrámos nenhuma câmara. Pode ser atendido(a) só com som, ou use outro aparelho com câmara.",
      "deviceNoMic": "A câmara está a funcionar, mas não encontrámos nenhum microfone. Ligue um microfone ou auscultadores com microfone e tente de novo.",
      "deviceNone": "Não encontrámos câmara nem microfone neste aparelho. Ligue uma câmara e um microfone, ou use um telemóvel, e tente de novo.",
      "deviceDenied": "Não deu autorização para usar a câmara e o microfone. Para autorizar, carregue no ícone junto ao endereço da página (cadeado ou câmara), escolha «Permitir» e tente de novo.",
      "deviceBusy": "A câmara ou o microfone estão a ser usados por outra aplicação. Feche essa aplicação e tente de novo.",
      "deviceUnsupported": "Este navegador não permite testar a câmara e o microfone. Experimente uma versão atualizada do Google Chrome, Firefox, Edge ou Safari.",
      "deviceFailed": "Não foi possível testar a câmara e o microfone. Tente de novo ou use outro aparelho.",
      "deviceStopped": "Teste terminado. A câmara e o microfone foram desligados.",
      "equipmentTitle": "Recursos mínimos para a videochamada",
      "fromComputer": "Se aceder de um computador",
      "eqComputer": "Computador com câmara e microfone.",
      "eqInternet": "Ligação à internet.",
      "fromPhone": "Se aceder de um telemóvel",
      "eqPhone": "Telemóvel com câmara frontal.",
      "eqSystem": "Sistema operativo Android ou iOS.",
      "eqMobileData": "Ligação à internet (3G, 4G ou Wi-Fi privada) com velocidade adequada.",
      "eqBrowser": "Navegador de internet atualizado, por exemplo o Google Chrome.",
      "eqMail": "Acesso à caixa de correio onde recebeu o link e o código.",
      "placeTitle": "Escolha um bom local",
      "placeText": "Sem ruído, com boa iluminação e condições de privacidade.",
      "noiseTitle": "Instruções para ativar a supressão de ruído",
      "noise1": "Se tiver, use auscultadores ou auriculares com microfone.",
      "noise2": "Feche portas e janelas e desligue a televisão e o rádio.",
      "noise3": "Na videochamada, abra as definições de áudio (ícone de engrenagem ou «Mais opções») e ative «Supressão de ruído» ou «Cancelamento de ruído».",
      "noise4": "No telemóvel, se existir, ative também a redução de ruído do microfone (iPhone: «Isolamento de voz» no Centro de Controlo; Android: definições de som).",
      "helpLead": "Precisa de ajuda? Ligue",
      "helpAbroad": "Do estrangeiro, junte o indicativo +351.",
      "footerRecording": "A chamada não é gravada, para proteção dos seus dados."
    },
    "en": {
      "skipLink": "Skip to content",
      "serviceName": "Video call service",
      "serviceLabel": "Service",
      "whenLabel": "Date and time",
      "notRecorded": "The call is not recorded.",
      "beforeTitle": "Your session is not available yet",
      "opensSoon": "Your session becomes available 30 minutes before the booked time.",
      "opensAt": "Your session becomes available at {time}.",
      "opensOn": "Your session becomes available on {date} at {time}.",
      "countdownLabel": "Time left:",
      "days": "{n} days",
      "oneDay": "1 day",
      "beforeHint": "When the time comes, the field for the validation code appears here. While you wait, you can test your camera and microphone.",
      "codeTitle": "Enter your validation code",
      "codeAgain": "To go back to the waiting room, enter the code again. You keep your place.",
      "codeLabel": "Validation code (6 digits)",
      "codeHint": "It is in the e-mail that brought you the link to this page.",
      "codeSubmit": "Enter the waiting room",
      "codeFormat": "Type the 6 digits of the code, without spaces.",
      "codeWrongMany": "Wrong code. {n} attempts left.",
      "codeWrongOne": "Wrong code. 1 attempt left.",
      "codeWrongNone": "Wrong code. No attempts left.",
      "codeLocked": "Too many wrong codes. You can try again from {time}.",
      "codeLockedNoTime": "Too many wrong codes. Please try again later.",
      "codeTooEarly": "The session is not available yet. It opens at {time}.",
      "codeClosed": "This session has ended and can no longer be joined.",
      "codeCancelled": "This appointment was cancelled.",
      "codeUnknown": "This link is not valid. Check the link in the e-mail or call {phone}.",
      "codeRateLimited": "Too many attempts in a row. Wait a minute and try again.",
      "codeNetwork": "The code could not be checked. Check your internet connection and try again.",
      "codeFailed": "The code could not be checked. Try again or call {phone}.",
      "codeReady": "You can now enter your validation code.",
      "ticketExpired": "To go back to the waiting room, enter the code again.",
      "waitingTitle": "Waiting for your advisor",
      "waitingText": "Your advisor will let you into the video call. Keep this page open.",
      "waitedLabel": "Time waited:",
      "waitingAnnounce": "You are in the waiting room. Your advisor will let you in soon.",
      "positionNext": "You are next.",
      "positionBusy": "Your advisor is finishing another appointment.",
      "fallbackPhone": "Social Security will phone you to help.",
      "fallbackEmail": "We sent you an e-mail with help to join the video call.",
      "connectionLost": "The connection was interrupted. Trying again…",
      "messagesTitle": "Messages from your advisor",
      "noMessages": "No messages yet.",
      "admittedTitle": "Your advisor is ready",
      "admittedText": "Press the button to join the video call.",
      "joinLink": "Join the video call",
      "admittedReminder": "Your advisor will confirm who you are by talking with you. The call is not recorded.",
      "admittedAnnounce": "Your advisor is ready. Press “Join the video call”.",
      "rejoinHint": "Left the call, or the link stopped working? Ask for a new link.",
      "rejoinButton": "Get a new link",
      "rejoinReady": "The new link is ready. Press “Join the video call”.",
      "rejoinFailed": "A new link could not be obtained. Try again in a moment.",
      "endedTitle": "The appointment has ended",
      "endedText": "Thank you for contacting us.",
      "endedRescheduled": "The appointment will be rescheduled. Thank you for contacting us.",
      "cancelledTitle": "This appointment was cancelled",
      "cancelledText": "If you still need help, book a new appointment or call the Social Security line.",
      "closedTitle": "This session is no longer available",
      "closedText": "The time of your appointment is over. If you still need help, book a new appointment or call the Social Security line.",
      "failedText": "The video call could not be prepared. We are sorry. Please call the Social Security line to be served.",
      "deviceTitle": "Test your camera and microphone",
      "deviceText": "Your browser will ask for permission to use the camera and microphone. The picture and sound stay on your device: nothing is sent or recorded.",
      "deviceTest": "Test camera and microphone",
      "deviceStop": "Stop the test",
      "micLevel": "Microphone level (speak to see it move)",
      "deviceAsking": "Asking for permission to use the camera and microphone…",
      "deviceOk": "Your camera and microphone work. You should see yourself; speak and watch the microphone level move.",
      "deviceNoCamera": "Your microphone works, but no camera was found. You can be served with sound only, or use another device with a camera.",
      "deviceNoMic": "Your camera works, but no microphone was found. Connect a microphone or a headset and try again.",
      "deviceNone": "No camera or microphone was found on this device. Connect a camera and a microphone, or use a phone, and try again.",
      "deviceDenied": "You did not allow the camera and microphone. To allow them, press the icon next to the page address (padlock or camera), choose “Allow” and try again.",
      "deviceBusy": "The camera or microphone is being used by another application. Close it and try again.",
      "deviceUnsupported": "This browser cannot test the camera and microphone. Try an up-to-date Google Chrome, Firefox, Edge or Safari.",
      "deviceFailed": "The camera and microphone could not be tested. Try again or use another device.",
      "deviceStopped": "Test stopped. The camera and microphone are off.",
      "equipmentTitle": "What you need for the video call",
      "fromComputer": "From a computer",
      "eqComputer": "A computer with a camera and a microphone.",
      "eqInternet": "An internet connection.",
      "fromPhone": "From a mobile phone",
      "eqPhone": "A phone with a front camera.",
      "eqSystem": "An Android or iOS operating system.",
      "eqMobileData": "An internet connection (3G, 4G or private Wi-Fi) of adequate speed.",
      "eqBrowser": "An up-to-date web browser, for example Google Chrome.",
      "eqMail": "Access to the mailbox where you received the link and the code.",
      "placeTitle": "Choose a good place",
      "placeText": "Quiet, well lit and private.",
      "noiseTitle": "How to turn on noise suppression",
      "noise1": "If you have them, use headphones or earphones with a microphone.",
      "noise2": "Close doors and windows and turn off the television and the radio.",
      "noise3": "In the video call, open the audio settings (gear icon or “More options”) and turn on “Noise suppression” or “Noise cancellation”.",
      "noise4": "On a phone, if available, also turn on the microphone’s noise reduction (iPhone: “Voice Isolation” in Control Centre; Android: sound settings).",
      "helpLead": "Need help? Call",
      "helpAbroad": "From abroad, add the country code +351.",
      "footerRecording": "The call is not recorded, to protect your data."
    }
  };
  /* i18n:end */

  var main = document.getElementById("lobby");
  if (!main) {
    return;
  }

  var lang = main.getAttribute("data-lang") === "en" ? "en" : "pt-PT";
  var token = main.getAttribute("data-token") || "";
  var helpPhone = main.getAttribute("data-help-phone") || "300 502 502";
  var initialState = main.getAttribute("data-state") || "";
  var opensAt = parseTime(main.getAttribute("data-opens-at"));
  var endsAt = parseTime(main.getAttribute("data-ends-at"));
  var api = "/v1/lobby/" + encodeURIComponent(token);
  var ticketKey = "lobby-ticket:" + token;
  var SECTIONS = ["before-window", "code-entry", "waiting", "admitted", "ended", "cancelled", "closed"];
  var TERMINAL = { ended: true, cancelled: true, closed: true };

  var current = null; // the visible section id
  var enteredAt = null; // ms since epoch, from the server when known
  var joinUrl = null;
  var seenMessages = {};
  var stream = null;
  var pollTimer = 0;
  var entering = false;

  function $(id) {
    return document.getElementById(id);
  }

  function t(key, vars) {
    return GatewayPage.translate(I18N, lang, key, vars);
  }

  function applyStaticTexts() {
    GatewayPage.applyStaticTexts(I18N, lang);
  }

  function parseTime(value) {
    return GatewayPage.parseTime(value);
  }

  function twoDigits(n) {
    return (n < 10 ? "0" : "") + n;
  }

  var timeFormat = makeFormat({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  var dateFormat = makeFormat({ day: "numeric", month: "long", year: "numeric" });
  var dayKeyFormat = makeFormat({ year: "numeric", month: "2-digit", day: "2-digit" });

  function makeFormat(options) {
    var withZone = {};
    for (var key in options) {
      withZone[key] = options[key];
    }
    withZone.timeZone = "Europe/Lisbon";
    try {
      return new Intl.DateTimeFormat(lang, withZone);
    } catch (error) {
      try {
        return new Intl.DateTimeFormat(lang, options);
      } catch (again) {
        return null;
      }
    }
  }

  function formatTime(ms) {
    if (ms === null) {
      return "";
    }
    if (timeFormat) {
      return timeFormat.format(new Date(ms));
    }
    var d = new Date(ms);
    return twoDigits(d.getHours()) + ":" + twoDigits(d.getMinutes());
  }

  function sameDay(a, b) {
    if (!dayKeyFormat) {
      return new Date(a).toDateString() === new Date(b).toDateString();
    }
    return dayKeyFormat.format(new Date(a)) === dayKeyFormat.format(new Date(b));
  }

  function formatClock(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var minutes = Math.floor(s / 60);
    return twoDigits(minutes) + ":" + twoDigits(s % 60);
  }

  function formatCountdown(seconds) {
    var s = Math.max(0, Math.ceil(seconds));
    var days = Math.floor(s / 86400);
    var hours = Math.floor((s % 86400) / 3600);
    var minutes = Math.floor((s % 3600) / 60);
    var rest = s % 60;
    var clock = (hours > 0 || days > 0 ? hours + ":" + twoDigits(minutes) : twoDigits(minutes)) + ":" + twoDigits(rest);
    if (days === 0) {
      return clock;
    }
    return (days === 1 ? t("oneDay") : t("days", { n: days })) + ", " + clock;
  }

  function announce(text) {
    var region = $("status");
    region.textContent = "";
    // A new text node in a fresh task is announced even when the text repeats.
    window.setTimeout(function () {
      region.textContent = text;
    }, 50);
  }

  function show(id, focusHeading) {
    if (current === id) {
      return;
    }
    current = id;
    for (var i = 0; i < SECTIONS.length; i++) {
      $(SECTIONS[i]).hidden = SECTIONS[i] !== id;
    }
    main.setAttribute("data-view", id);
    if (focusHeading) {
      var heading = $(id).querySelector("h2");
      if (heading) {
        heading.focus();
      }
    }
    if (TERMINAL[id]) {
      closeStream();
      stopPolling();
    }
  }

  function safeUrl(value) {
    if (typeof value !== "string") {
      return null;
    }
    try {
      var url = new URL(value, window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function telHref(phone) {
    return "tel:" + String(phone).replace(/[^+0-9]/g, "");
  }

  function readTicket() {
    return GatewayPage.readStored(ticketKey);
  }

  /* Without storage the HttpOnly cookie still carries the lobby ticket. */
  function storeTicket(ticket) {
    GatewayPage.store(ticketKey, ticket);
  }

  function readProblem(response) {
    return GatewayPage.readProblem(response);
  }

  /* ---- before the window opens ---- */

  function showBeforeWindow() {
    var text = $("opens-text");
    if (opensAt !== null) {
      text.textContent = sameDay(opensAt, Date.now())
        ? t("opensAt", { time: formatTime(opensAt) })
        : t("opensOn", { date: dateFormat ? dateFormat.format(new Date(opensAt)) : new Date(opensAt).toDateString(), time: formatTime(opensAt) });
    }
    show("before-window");
    updateCountdown();
  }

  function updateCountdown() {
    if (current !== "before-window") {
      return;
    }
    var left = opensAt === null ? 0 : (opensAt - Date.now()) / 1000;
    if (left <= 0) {
      showCodeEntry(false);
      announce(t("codeReady"));
      return;
    }
    var text = formatCountdown(left);
    var box = $("countdown");
    if (box.textContent !== text) {
      box.textContent = text;
    }
  }

  /* ---- the code ---- */

  function showCodeEntry(again) {
    $("code-again").hidden = !again;
    show("code-entry");
  }

  function setCodeError(text) {
    var input = $("code");
    $("code-error").textContent = text || "";
    if (text) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
  }

  function onCodeSubmit(event) {
    event.preventDefault();
    if (entering) {
      return;
    }
    var input = $("code");
    var code = input.value.replace(/\s+/g, "");
    if (!/^[0-9]{6}$/.test(code)) {
      setCodeError(t("codeFormat"));
      input.focus();
      return;
    }
    entering = true;
    main.setAttribute("aria-busy", "true");
    fetch(api + "/enter", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ code: code }),
      credentials: "same-origin",
      cache: "no-store"
    })
      .then(function (response) {
        if (response.ok) {
          return response.json().then(onEntered);
        }
        return readProblem(response).then(function (problem) {
          onEnterProblem(response, problem);
        });
      })
      .catch(function () {
        setCodeError(t("codeNetwork"));
        input.focus();
      })
      .then(function () {
        entering = false;
        main.removeAttribute("aria-busy");
      });
  }

  function onEntered(body) {
    setCodeError("");
    $("code").value = "";
    if (body && body.ticket) {
      storeTicket(body.ticket);
    }
    if (enteredAt === null) {
      enteredAt = Date.now();
    }
    // Also when already admitted once ("in_progress"): the lobby state then brings the join URL.
    show("waiting", true);
    announce(t("waitingAnnounce"));
    tick();
    refreshState();
    openStream();
    startPolling();
  }

  function onEnterProblem(response, problem) {
    var input = $("code");
    var code = problem.code || "";
    var status = response.status;
    if (code === "invalid_code" || (status === 401 && !code)) {
      var left = typeof problem.attemptsLeft === "number" ? problem.attemptsLeft : null;
      if (left === null) {
        setCodeError(t("codeFailed", { phone: helpPhone }));
      } else if (left > 1) {
        setCodeError(t("codeWrongMany", { n: left }));
      } else if (left === 1) {
        setCodeError(t("codeWrongOne"));
      } else {
        setCodeError(t("codeWrongNone"));
      }
    } else if (code === "locked" || status === 423) {
      var until = parseTime(problem.lockedUntil);
      setCodeError(until !== null ? t("codeLocked", { time: formatTime(until) }) : t("codeLockedNoTime"));
    } else if (code === "too_early" || status === 425) {
      var opens = parseTime(problem.opensAt);
      if (opens !== null) {
        opensAt = opens;
      }
      setCodeError(t("codeTooEarly", { time: formatTime(opensAt) }));
    } else if (code === "cancelled") {
      setCodeError(t("codeCancelled"));
      showCancelled();
      return;
    } else if (code === "closed" || status === 410) {
      setCodeError(t("codeClosed"));
      showClosed("closed");
      return;
    } else if (code === "unknown_token" || status === 404) {
      setCodeError(t("codeUnknown", { phone: helpPhone }));
    } else if (code === "rate_limited" || status === 429) {
      setCodeError(t("codeRateLimited"));
    } else if (code === "validation_failed" || status === 400) {
      setCodeError(t("codeFormat"));
    } else {
      setCodeError(t("codeFailed", { phone: helpPhone }));
    }
    input.focus();
    input.select();
  }

  /* ---- in the lobby ---- */

  function authHeaders() {
    var headers = { Accept: "application/json" };
    var ticket = readTicket();
    if (ticket) {
      headers.Authorization = "Bearer " + ticket;
    }
    return headers;
  }

  /** GET /v1/lobby/{token}: the lobby state as JSON. Resolves to "ok", "unauthorized" or "failed". */
  function refreshState() {
    return fetch(api, { headers: authHeaders(), credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.ok) {
          return response.json().then(function (body) {
            applyLobby(body);
            return "ok";
          });
        }
        if (response.status === 401 || response.status === 403) {
          return "unauthorized";
        }
        if (response.status === 410) {
          return readProblem(response).then(function (problem) {
            if (problem.code === "cancelled") {
              showCancelled();
            } else {
              showClosed("closed");
            }
            return "ok";
          });
        }
        return "failed";
      })
      .catch(function () {
        return "failed";
      });
  }

  function applyLobby(body) {
    if (!body || typeof body !== "object") {
      return;
    }
    if (Array.isArray(body.messages)) {
      for (var i = 0; i < body.messages.length; i++) {
        addMessage(body.messages[i]);
      }
    }
    if (body.joinUrl) {
      joinUrl = safeUrl(body.joinUrl) || joinUrl;
    }
    applyState(body);
    // A companion's own entry can exist before the session is in progress.
    if (joinUrl && !TERMINAL[current] && current !== "admitted" && body.state !== "completed") {
      showAdmitted(joinUrl);
    }
  }

  function applyState(data) {
    if (!data || typeof data !== "object") {
      return;
    }
    var entered = parseTime(data.enteredAt);
    if (entered !== null) {
      enteredAt = entered;
    }
    if (data.joinUrl) {
      joinUrl = safeUrl(data.joinUrl) || joinUrl;
    }
    switch (data.state) {
      case "waiting":
        if (current !== "admitted") {
          show("waiting");
        }
        break;
      case "in_progress":
        if (joinUrl) {
          showAdmitted(joinUrl);
        } else if (current !== "admitted") {
          show("waiting");
        }
        break;
      case "completed":
        showEnded(data.outcome);
        break;
      case "cancelled":
        showCancelled();
        break;
      case "no_show":
        showClosed("closed");
        break;
      case "failed":
        showClosed("failed");
        break;
      default:
        break;
    }
    if (Object.prototype.hasOwnProperty.call(data, "position")) {
      setPosition(data.position);
    }
    tick();
  }

  function setPosition(position) {
    var note = $("queue-note");
    var text = position === "next" ? t("positionNext") : position === "attendant_busy" ? t("positionBusy") : "";
    if (note.textContent === text && note.hidden === !text) {
      return;
    }
    note.textContent = text;
    note.hidden = !text;
    if (text && current === "waiting") {
      announce(text);
    }
  }

  function addMessage(message) {
    if (!message || typeof message.text !== "string") {
      return;
    }
    var id = message.id || message.at + "|" + message.text;
    if (seenMessages[id]) {
      return;
    }
    seenMessages[id] = true;
    var item = document.createElement("li");
    var text = document.createElement("p");
    text.textContent = message.text;
    item.appendChild(text);
    var at = parseTime(message.at);
    if (at !== null) {
      var time = document.createElement("time");
      time.setAttribute("datetime", message.at);
      time.textContent = formatTime(at);
      item.appendChild(time);
    }
    // The list sits in a role="log" region: screen readers read new messages out by themselves.
    $("messages").appendChild(item);
    $("no-messages").hidden = true;
  }

  function showAdmitted(url) {
    var safe = safeUrl(url);
    if (!safe) {
      return;
    }
    joinUrl = safe;
    var link = $("join-link");
    var first = current !== "admitted" || link.getAttribute("href") !== safe;
    link.setAttribute("href", safe);
    show("admitted");
    if (first) {
      link.focus();
      announce(t("admittedAnnounce"));
    }
  }

  /* A fresh entry into the call (the first one expired, or the connection dropped). */
  function onRejoin() {
    var button = $("rejoin");
    button.disabled = true;
    $("rejoin-error").textContent = "";
    fetch(api + "/rejoin", { method: "POST", headers: authHeaders(), credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (body) {
        var safe = safeUrl(body && body.joinUrl);
        if (!safe) {
          throw new Error("no link");
        }
        joinUrl = safe;
        $("join-link").setAttribute("href", safe);
        $("join-link").focus();
        announce(t("rejoinReady"));
      })
      .catch(function () {
        $("rejoin-error").textContent = t("rejoinFailed");
        refreshState();
      })
      .then(function () {
        button.disabled = false;
      });
  }

  function showEnded(outcome) {
    $("ended-text").textContent = outcome === "rescheduled" ? t("endedRescheduled") : t("endedText");
    show("ended", true);
    storeTicket(null);
  }

  function showCancelled() {
    show("cancelled", true);
    storeTicket(null);
  }

  function showClosed(kind) {
    $("closed-text").textContent = kind === "failed" ? t("failedText") : t("closedText");
    show("closed", true);
    storeTicket(null);
  }

  function showFallback(data) {
    var note = $("fallback-note");
    var text = data && data.channel === "phone" ? t("fallbackPhone") : data && data.channel === "email" ? t("fallbackEmail") : "";
    note.textContent = text;
    note.hidden = !text;
  }

  function setConnected(connected) {
    $("connection-note").textContent = connected ? "" : t("connectionLost");
  }

  function handleEvent(type, raw) {
    var data;
    try {
      data = raw ? JSON.parse(raw) : {};
    } catch (error) {
      return;
    }
    switch (type) {
      case "state":
        // Live updates are about the booking and carry the citizen's entry time; a companion's own
        // comes from their lobby view, so once known it is kept.
        if (enteredAt !== null && data && typeof data === "object") {
          data = Object.assign({}, data);
          delete data.enteredAt;
        }
        applyState(data);
        break;
      case "message":
        addMessage(data);
        break;
      case "admitted":
        showAdmitted(data.joinUrl);
        break;
      case "ended":
        showEnded(data.outcome);
        break;
      case "fallback":
        showFallback(data);
        break;
      default:
        break;
    }
  }

  /* ---- the event stream: EventSource with the HttpOnly cookie; if the browser kept no cookie
     (or the server refuses it), the same stream read with fetch() and the ticket as a bearer. ---- */

  function openStream() {
    if (stream || TERMINAL[current]) {
      return;
    }
    if (typeof window.EventSource !== "function") {
      openFetchStream();
      return;
    }
    var source = new EventSource(api + "/events");
    var types = ["state", "message", "admitted", "ended", "fallback"];
    types.forEach(function (type) {
      source.addEventListener(type, function (event) {
        handleEvent(type, event.data);
      });
    });
    source.onopen = function () {
      setConnected(true);
    };
    source.onerror = function () {
      if (source.readyState === 2) {
        // Refused (e.g. 401): EventSource gives up. Find out why, then carry on with the ticket.
        source.close();
        stream = null;
        setConnected(false);
        refreshState().then(function (result) {
          if (result === "unauthorized") {
            lostTicket();
          } else if (!TERMINAL[current]) {
            openFetchStream();
          }
        });
      } else {
        setConnected(false);
      }
    };
    stream = {
      close: function () {
        source.close();
      }
    };
  }

  function openFetchStream() {
    if (stream || TERMINAL[current] || typeof window.fetch !== "function" || typeof window.ReadableStream !== "function") {
      return;
    }
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var closed = false;
    var lastEventId = null;
    stream = {
      close: function () {
        closed = true;
        if (controller) {
          controller.abort();
        }
      }
    };
    function connect() {
      if (closed) {
        return;
      }
      var headers = authHeaders();
      headers.Accept = "text/event-stream";
      if (lastEventId !== null) {
        headers["Last-Event-ID"] = lastEventId;
      }
      fetch(api + "/events", { headers: headers, credentials: "same-origin", cache: "no-store", signal: controller ? controller.signal : undefined })
        .then(function (response) {
          if (response.status === 401 || response.status === 403) {
            closed = true;
            stream = null;
            lostTicket();
            return null;
          }
          if (!response.ok || !response.body) {
            throw new Error("stream " + response.status);
          }
          setConnected(true);
          var parser = makeSSEParser(function (event) {
            if (event.id !== null) {
              lastEventId = event.id;
            }
            handleEvent(event.type, event.data);
          });
          var reader = response.body.getReader();
          var decoder = new TextDecoder();
          function pump() {
            return reader.read().then(function (chunk) {
              if (chunk.done) {
                parser.end();
                return null;
              }
              parser.push(decoder.decode(chunk.value, { stream: true }));
              return closed ? reader.cancel() : pump();
            });
          }
          return pump();
        })
        .catch(function () {
          /* dropped: reconnect below */
        })
        .then(function () {
          if (!closed) {
            setConnected(false);
            window.setTimeout(connect, 1000);
          }
        });
    }
    connect();
  }

  /** A small Server-Sent Events parser (the WHATWG event-stream format). */
  function makeSSEParser(onEvent) {
    return GatewayPage.makeSSEParser(onEvent);
  }

  function closeStream() {
    if (stream) {
      stream.close();
      stream = null;
    }
  }

  function startPolling() {
    stopPolling();
    // A slow safety net under the stream: the same state as JSON every 20 s.
    pollTimer = window.setInterval(function () {
      if (current === "waiting" || current === "admitted") {
        refreshState().then(function (result) {
          if (result === "unauthorized") {
            lostTicket();
          }
        });
      }
    }, 20000);
  }

  function stopPolling() {
    if (pollTimer) {
      window.clearInterval(pollTimer);
      pollTimer = 0;
    }
  }

  function lostTicket() {
    storeTicket(null);
    closeStream();
    stopPolling();
    if (!TERMINAL[current]) {
      showCodeEntry(true);
      announce(t("ticketExpired"));
    }
  }

  /* ---- the camera and microphone check ---- */

  var media = null;
  var audioContext = null;
  var meterFrame = 0;

  function deviceMessage(info, error) {
    $("device-info").textContent = info || "";
    $("device-error").textContent = error || "";
  }

  function getMedia(constraints) {
    return navigator.mediaDevices.getUserMedia(constraints);
  }

  function startDeviceTest() {
    if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== "function") {
      deviceMessage("", t("deviceUnsupported"));
      return;
    }
    deviceMessage(t("deviceAsking"), "");
    var partial = null;
    getMedia({ video: true, audio: true })
      .catch(function (error) {
        if (error && (error.name === "NotFoundError" || error.name === "DevicesNotFoundError" || error.name === "OverconstrainedError")) {
          return getMedia({ audio: true })
            .then(function (stream) {
              partial = "deviceNoCamera";
              return stream;
            })
            .catch(function () {
              return getMedia({ video: true }).then(function (stream) {
                partial = "deviceNoMic";
                return stream;
              });
            })
            .catch(function () {
              var none = new Error("none");
              none.name = "NotFoundError";
              throw none;
            });
        }
        throw error;
      })
      .then(function (stream) {
        media = stream;
        var preview = $("preview");
        if (stream.getVideoTracks().length > 0) {
          preview.srcObject = stream;
          preview.hidden = false;
          var playing = preview.play();
          if (playing && typeof playing.catch === "function") {
            playing.catch(function () {});
          }
        }
        if (stream.getAudioTracks().length > 0) {
          startMeter(stream);
        }
        $("device-test").hidden = true;
        $("device-stop").hidden = false;
        $("device-stop").focus();
        deviceMessage(partial ? "" : t("deviceOk"), partial ? t(partial) : "");
      })
      .catch(function (error) {
        var name = error && error.name;
        var key = "deviceFailed";
        if (name === "NotAllowedError" || name === "PermissionDeniedError" || name === "SecurityError") {
          key = "deviceDenied";
        } else if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
          key = "deviceNone";
        } else if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
          key = "deviceBusy";
        }
        deviceMessage("", t(key));
      });
  }

  function startMeter(stream) {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) {
      return;
    }
    try {
      audioContext = new Context();
      var source = audioContext.createMediaStreamSource(stream);
      var analyser = audioContext.createAnalyser();
      analyser.fftSize = 1024;
      source.connect(analyser);
      var samples = new Float32Array(analyser.fftSize);
      var meter = $("mic-level");
      var last = 0;
      var step = function (now) {
        meterFrame = window.requestAnimationFrame(step);
        if (now - last < 66) {
          return;
        }
        last = now;
        analyser.getFloatTimeDomainData(samples);
        var sum = 0;
        for (var i = 0; i < samples.length; i++) {
          sum += samples[i] * samples[i];
        }
        var rms = Math.sqrt(sum / samples.length);
        var decibels = rms > 0 ? 20 * Math.log10(rms) : -100;
        var level = Math.min(1, Math.max(0, (decibels + 60) / 60));
        meter.value = Math.round(level * 100) / 100;
        meter.textContent = String(meter.value);
      };
      meterFrame = window.requestAnimationFrame(step);
      if (audioContext.state === "suspended") {
        audioContext.resume().catch(function () {});
      }
    } catch (error) {
      audioContext = null;
    }
  }

  function stopDevices() {
    if (meterFrame) {
      window.cancelAnimationFrame(meterFrame);
      meterFrame = 0;
    }
    if (audioContext) {
      audioContext.close().catch(function () {});
      audioContext = null;
    }
    if (media) {
      media.getTracks().forEach(function (track) {
        track.stop();
      });
      media = null;
    }
    var preview = $("preview");
    preview.srcObject = null;
    preview.hidden = true;
    $("mic-level").value = 0;
    $("device-test").hidden = false;
    $("device-stop").hidden = true;
  }

  function stopDeviceTest() {
    var wasRunning = media !== null;
    stopDevices();
    $("device-test").focus();
    if (wasRunning) {
      deviceMessage(t("deviceStopped"), "");
    }
  }

  /* ---- timers ---- */

  function tick() {
    if (current === "before-window") {
      updateCountdown();
    }
    if (current === "waiting") {
      var since = enteredAt === null ? null : (Date.now() - enteredAt) / 1000;
      var text = since === null ? "--:--" : formatClock(since);
      var box = $("waited");
      if (box.textContent !== text) {
        box.textContent = text;
      }
    }
  }

  /* ---- start ---- */

  /* With a ticket (kept in this tab, or the cookie of an earlier visit) the waiting room opens again
     without the code; without one, the code is asked for. */
  function resume(askAgain, codeUnlessKnown) {
    refreshState().then(function (result) {
      if (result === "unauthorized" || (result === "failed" && codeUnlessKnown)) {
        storeTicket(null);
        showCodeEntry(askAgain);
        return;
      }
      if (TERMINAL[current]) {
        return;
      }
      if (current !== "admitted") {
        show("waiting");
      }
      openStream();
      startPolling();
    });
  }

  function start() {
    var ticket = readTicket();
    switch (initialState) {
      case "scheduled":
      case "open":
      case "late":
        if (endsAt !== null && Date.now() >= endsAt) {
          showClosed("closed");
        } else if (opensAt !== null && Date.now() < opensAt) {
          showBeforeWindow();
        } else if (initialState === "scheduled") {
          showCodeEntry(false);
        } else {
          // A citizen who left the waiting room (a closed page) and comes back is back in it.
          resume(false, true);
        }
        break;
      case "waiting":
      case "in_progress":
        if (!ticket) {
          showCodeEntry(true);
          break;
        }
        resume(true, false);
        break;
      case "completed":
        showEnded(null);
        break;
      case "cancelled":
        showCancelled();
        break;
      case "failed":
        showClosed("failed");
        break;
      default:
        showClosed("closed");
        break;
    }
  }

  applyStaticTexts();
  var tels = document.querySelectorAll("a.tel");
  for (var i = 0; i < tels.length; i++) {
    tels[i].setAttribute("href", telHref(tels[i].textContent || helpPhone));
  }
  $("code-form").addEventListener("submit", onCodeSubmit);
  $("code").addEventListener("input", function () {
    if ($("code").getAttribute("aria-invalid") === "true" && /^[0-9]{6}$/.test($("code").value)) {
      setCodeError("");
    }
  });
  $("device-test").addEventListener("click", startDeviceTest);
  $("rejoin").addEventListener("click", onRejoin);
  $("device-stop").addEventListener("click", stopDeviceTest);
  $("join-link").addEventListener("click", function (event) {
    if (!joinUrl) {
      event.preventDefault();
      return;
    }
    stopDevices(); // free the camera for the video call
  });
  window.addEventListener("pagehide", function () {
    stopDevices();
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && (current === "waiting" || current === "admitted")) {
      refreshState();
      openStream();
    }
  });
  window.setInterval(tick, 250);
  start();
})();
