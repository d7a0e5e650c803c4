/* The attendant console (GET /console): agenda, live waiting room with running timers, audible and
   visible alerts, admit / message / end / fallback, and the attendance script as a checklist.
   Every call sends the attendant's JWT as a bearer; the event stream is read with fetch() because
   EventSource cannot send headers. Plain browser JavaScript, no build. */
(function () {
  "use strict";

  /* i18n:start */
  var I18N = {
    "pt-PT": {
      "skipLink": "Saltar para o conteúdo",
      "consoleName": "Consola de atendimento por videochamada",
      "logout": "Sair",
      "loginTitle": "Entrar na consola",
      "tokenLabel": "Token de acesso (JWT)",
      "tokenHint": "Cole o token que recebeu. Fica guardado só neste separador, até o fechar ou sair.",
      "loginSubmit": "Entrar",
      "tokenMissing": "Cole o seu token de acesso.",
      "tokenRejected": "O token não foi aceite ou expirou. Entre de novo com um token válido.",
      "signedOut": "Saiu da consola.",
      "who": "Técnico: {name}",
      "soundOn": "Ativar o som dos alertas",
      "soundReady": "O som dos alertas está ativo.",
      "online": "Notificações em tempo real: ligadas.",
      "offline": "Notificações em tempo real: sem ligação. A tentar de novo…",
      "alertsTitle": "Alertas",
      "noAlerts": "Sem alertas.",
      "alertWaiting": "{name} está à espera.",
      "alertLate": "{name} está atrasado(a).",
      "alertCompanionWaiting": "{name} ({role}) está à espera, para o atendimento de {citizen}.",
      "role_interpreter": "intérprete",
      "role_representative": "representante",
      "companion": "acompanhante",
      "companionLine": "{role}: {name}",
      "companionWaiting": "à espera",
      "companionAdmitted": "admitido(a)",
      "lobbyCompanion": "{name} ({role}, com {citizen})",
      "callPhone": "Ligar {phone}",
      "dismiss": "Fechar",
      "dismissAlert": "Fechar o alerta: {text}",
      "someone": "Um cidadão ({id})",
      "hostLink": "Abrir a videochamada (técnico)",
      "hostText": "Videochamada com {name}: abriu num novo separador. Se não abriu, use o link.",
      "lobbyTitle": "Sala de espera",
      "lobbyEmpty": "Ninguém à espera.",
      "lobbySince": "à espera desde as {time}",
      "dateLabel": "Dia",
      "refresh": "Atualizar",
      "agendaToday": "Agenda de hoje",
      "agendaOf": "Agenda de {date}",
      "agendaEmpty": "Não há atendimentos para este dia.",
      "colTime": "Hora",
      "colCitizen": "Cidadão",
      "colTopic": "Assunto",
      "colState": "Estado",
      "colActions": "Ações",
      "state_scheduled": "Marcado",
      "state_open": "Sala aberta",
      "state_waiting": "À espera",
      "state_in_progress": "Em curso",
      "state_late": "Atrasado",
      "state_completed": "Concluído",
      "state_no_show": "Não compareceu",
      "state_cancelled": "Cancelado",
      "state_failed": "Falhou",
      "waitingFor": "há",
      "channel_phone": "Telefone",
      "channel_email": "E-mail",
      "fallbackStatus_sent": "enviado",
      "fallbackStatus_pending": "pendente",
      "fallbackStatus_failed": "falhou",
      "fallbackLine": "{channel}: {status} às {time}",
      "noContact": "Sem contacto",
      "btnAdmit": "Admitir",
      "btnAdmitAll": "Admitir todos",
      "btnMessage": "Mensagem",
      "btnEnd": "Terminar",
      "btnFallbackPhone": "Contactar por telefone",
      "btnFallbackEmail": "Contactar por e-mail",
      "btnScript": "Guião",
      "admitted": "Admitiu {name}.",
      "messageSent": "Mensagem enviada a {name}.",
      "ended": "Atendimento de {name} terminado.",
      "fallbackSentPhone": "Pedido de contacto por telefone enviado para {name}.",
      "fallbackSentEmail": "E-mail de ajuda enviado a {name}.",
      "fallbackEventPhone": "Contacto por telefone pedido para {name}.",
      "fallbackEventEmail": "E-mail de ajuda enviado a {name}.",
      "scriptTitle": "Guião do atendimento",
      "scriptNone": "Escolha um atendimento na agenda (botão «Guião» ou «Admitir»).",
      "scriptFor": "Atendimento de {name}, às {time}.",
      "scriptNoNumbers": "Não escreva aqui números de identificação. O guião guarda só os passos feitos, nunca dados pessoais.",
      "scriptLegend": "Passos do atendimento",
      "stepGreeting": "Saudação inicial: o técnico identifica-se e pergunta como tratar o cidadão",
      "stepNoRecording": "Informe que a chamada não pode ser gravada",
      "stepIdentification": "Identificação: nome e número de identificação pedidos por conversa",
      "authLegend": "Nível de autenticação",
      "authNone": "Sem autenticação (informação geral)",
      "authWeak": "Fraca",
      "authStrong": "Forte (NIF, NISS, cartão de cidadão, naturalidade e morada, confirmados no sistema)",
      "callerLegend": "Quem fala",
      "callerCitizen": "O próprio cidadão",
      "callerThirdParty": "Um terceiro",
      "stepMoreQuestions": "Perguntou se tem mais alguma questão",
      "stepOtherBookings": "Perguntou se tem outras marcações a cancelar ou reagendar",
      "stepFarewell": "Despedida: agradecimento pelo contacto",
      "scriptSave": "Guardar o guião",
      "scriptChooseAuth": "Escolha o nível de autenticação.",
      "scriptChooseCaller": "Escolha quem fala.",
      "scriptSaved": "Guião de {name} guardado.",
      "endTitle": "Terminar o atendimento",
      "outcomeLegend": "Resultado",
      "outcomeResolved": "Resolvido",
      "outcomeUnresolved": "Não resolvido",
      "outcomeRescheduled": "Reagendado",
      "endConfirm": "Terminar",
      "back": "Voltar",
      "messageTitle": "Mensagem para o cidadão",
      "messageLabel": "Mensagem",
      "messageHint": "O cidadão vê a mensagem na sala de espera. Não escreva números de identificação nem outros dados pessoais.",
      "messageSend": "Enviar",
      "messageEmpty": "Escreva a mensagem.",
      "dialogWho": "{name}, às {time}",
      "errNotWaiting": "O cidadão não está na sala de espera.",
      "errForbidden": "Este atendimento não lhe está atribuído.",
      "errNotFound": "Atendimento não encontrado.",
      "errRateLimited": "Demasiados pedidos seguidos. Aguarde um pouco e tente de novo.",
      "errRoomNotReady": "A sala da videochamada ainda não está pronta. Tente de novo dentro de momentos.",
      "errMissingContact": "Não há contacto do cidadão para este canal.",
      "errNetwork": "Sem ligação ao servidor. Tente de novo.",
      "errHttp": "O pedido falhou (HTTP {status}).",
      "footerRecording": "A gravação das videochamadas está desativada (proteção de dados). Diga-o ao cidadão no início da chamada."
    },
    "en": {
      "skipLink": "Skip to content",
      "consoleName": "Video call service console",
      "logout": "Sign out",
      "loginTitle": "Sign in to the console",
      "tokenLabel": "Access token (JWT)",
      "tokenHint": "Paste the token you were given. It is kept only in this tab, until you close it or sign out.",
      "loginSubmit": "Sign in",
      "tokenMissing": "Paste your access token.",
      "tokenRejected": "The token was not accepted or has expired. Sign in again with a valid token.",
      "signedOut": "You signed out.",
      "who": "Advisor: {name}",
      "soundOn": "Turn on alert sounds",
      "soundReady": "Alert sounds are on.",
      "online": "Live notifications: connected.",
      "offline": "Live notifications: disconnected. Trying again…",
      "alertsTitle": "Alerts",
      "noAlerts": "No alerts.",
      "alertWaiting": "{name} is waiting.",
      "alertLate": "{name} is late.",
      "alertCompanionWaiting": "{name} ({role}) is waiting, for the appointment of {citizen}.",
      "role_interpreter": "interpreter",
      "role_representative": "representative",
      "companion": "companion",
      "companionLine": "{role}: {name}",
      "companionWaiting": "waiting",
      "companionAdmitted": "admitted",
      "lobbyCompanion": "{name} ({role}, with {citizen})",
      "callPhone": "Call {phone}",
      "dismiss": "Dismiss",
      "dismissAlert": "Dismiss the alert: {text}",
      "someone": "A citizen ({id})",
      "hostLink": "Open the video call (advisor)",
      "hostText": "Video call with {name}: it opened in a new tab. If it did not, use the link.",
      "lobbyTitle": "Waiting room",
      "lobbyEmpty": "Nobody is waiting.",
      "lobbySince": "waiting since {time}",
      "dateLabel": "Day",
      "refresh": "Refresh",
      "agendaToday": "Today’s agenda",
      "agendaOf": "Agenda for {date}",
      "agendaEmpty": "There are no appointments on this day.",
      "colTime": "Time",
      "colCitizen": "Citizen",
      "colTopic": "Subject",
      "colState": "Status",
      "colActions": "Actions",
      "state_scheduled": "Scheduled",
      "state_open": "Lobby open",
      "state_waiting": "Waiting",
      "state_in_progress": "In progress",
      "state_late": "Late",
      "state_completed": "Completed",
      "state_no_show": "No-show",
      "state_cancelled": "Cancelled",
      "state_failed": "Failed",
      "waitingFor": "for",
      "channel_phone": "Phone",
      "channel_email": "E-mail",
      "fallbackStatus_sent": "sent",
      "fallbackStatus_pending": "pending",
      "fallbackStatus_failed": "failed",
      "fallbackLine": "{channel}: {status} at {time}",
      "noContact": "No contact",
      "btnAdmit": "Admit",
      "btnAdmitAll": "Admit everyone",
      "btnMessage": "Message",
      "btnEnd": "End",
      "btnFallbackPhone": "Contact by phone",
      "btnFallbackEmail": "Contact by e-mail",
      "btnScript": "Script",
      "admitted": "You admitted {name}.",
      "messageSent": "Message sent to {name}.",
      "ended": "Appointment with {name} ended.",
      "fallbackSentPhone": "Phone call-back requested for {name}.",
      "fallbackSentEmail": "Help e-mail sent to {name}.",
      "fallbackEventPhone": "Phone call-back requested for {name}.",
      "fallbackEventEmail": "Help e-mail sent to {name}.",
      "scriptTitle": "Appointment script",
      "scriptNone": "Choose an appointment in the agenda (“Script” or “Admit” button).",
      "scriptFor": "Appointment with {name}, at {time}.",
      "scriptNoNumbers": "Do not write identification numbers here. The script keeps only the steps done, never personal data.",
      "scriptLegend": "Steps of the appointment",
      "stepGreeting": "Greeting: introduce yourself and ask how to address the citizen",
      "stepNoRecording": "Say that the call may not be recorded",
      "stepIdentification": "Identification: name and ID number asked in conversation",
      "authLegend": "Authentication level",
      "authNone": "None (general information)",
      "authWeak": "Weak",
      "authStrong": "Strong (tax number, social security number, citizen card, birthplace and address, checked in the system)",
      "callerLegend": "Who is speaking",
      "callerCitizen": "The citizen",
      "callerThirdParty": "A third party",
      "stepMoreQuestions": "Asked whether there are more questions",
      "stepOtherBookings": "Asked about other bookings to cancel or reschedule",
      "stepFarewell": "Farewell: thanks for getting in touch",
      "scriptSave": "Save the script",
      "scriptChooseAuth": "Choose the authentication level.",
      "scriptChooseCaller": "Choose who is speaking.",
      "scriptSaved": "Script for {name} saved.",
      "endTitle": "End the appointment",
      "outcomeLegend": "Outcome",
      "outcomeResolved": "Resolved",
      "outcomeUnresolved": "Not resolved",
      "outcomeRescheduled": "Rescheduled",
      "endConfirm": "End",
      "back": "Back",
      "messageTitle": "Message to the citizen",
      "messageLabel": "Message",
      "messageHint": "The citizen sees the message in the waiting room. Do not write identification numbers or other personal data.",
      "messageSend": "Send",
      "messageEmpty": "Write the message.",
      "dialogWho": "{name}, at {time}",
      "errNotWaiting": "The citizen is not in the waiting room.",
      "errForbidden": "This appointment is not assigned to you.",
      "errNotFound": "Appointment not found.",
      "errRateLimited": "Too many requests in a row. Wait a moment and try again.",
      "errRoomNotReady": "The video call room is not ready yet. Try again in a moment.",
      "errMissingContact": "There is no contact of the citizen for this channel.",
      "errNetwork": "No connection to the server. Try again.",
      "errHttp": "The request failed (HTTP {status}).",
      "footerRecording": "Recording is off for every video call (data protection). Tell the citizen at the start of the call."
    }
  };
  /* i18n:end */

  var main = document.getElementById("console");
  if (!main) {
    return;
  }

  var lang = main.getAttribute("data-lang") === "en" ? "en" : "pt-PT";
  var TOKEN_KEY = "console-token";
  var MAX_ALERTS = 8;
  // States after which a booking is no longer "waiting": a later entry is a new wait.
  var NOT_WAITING = { open: true, late: true, in_progress: true, completed: true, no_show: true, cancelled: true, failed: true, scheduled: true };
  var CLOSED = { completed: true, no_show: true, cancelled: true, failed: true };

  var token = null;
  var items = {}; // bookingId -> agenda item
  var rows = {}; // bookingId -> <tr>
  var alertedWaiting = {}; // bookingId -> when the wait was noticed (ms)
  var alertedLate = {};
  var agendaLoaded = false;
  var agendaError = false;
  var inflight = null;
  var again = false;
  var refreshTimer = 0;
  var periodicTimer = 0;
  var events = null;
  var audioContext = null;
  var beeps = 0;
  var selectedId = null;
  var scriptDrafts = {};
  var endTarget = null;
  var messageTarget = null;
  var dialogOpener = null;

  function $(id) {
    return document.getElementById(id);
  }

  function t(key, vars) {
    return GatewayPage.translate(I18N, lang, key, vars);
  }

  function has(key) {
    return Object.prototype.hasOwnProperty.call(I18N[lang], key);
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

  var timeFormat = makeFormat({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

  function formatTime(ms) {
    if (ms === null || ms === undefined) {
      return "";
    }
    if (timeFormat) {
      return timeFormat.format(new Date(ms));
    }
    var d = new Date(ms);
    return twoDigits(d.getHours()) + ":" + twoDigits(d.getMinutes());
  }

  function formatClock(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    return twoDigits(Math.floor(s / 60)) + ":" + twoDigits(s % 60);
  }

  function today() {
    var d = new Date();
    return d.getFullYear() + "-" + twoDigits(d.getMonth() + 1) + "-" + twoDigits(d.getDate());
  }

  function formatDay(value) {
    var parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    if (!parts) {
      return value;
    }
    try {
      return new Intl.DateTimeFormat(lang, { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" }).format(
        new Date(Date.UTC(+parts[1], +parts[2] - 1, +parts[3]))
      );
    } catch (error) {
      return value;
    }
  }

  function telHref(phone) {
    return "tel:" + String(phone).replace(/[^+0-9]/g, "");
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

  function nameOf(id) {
    var item = items[id];
    if (item && item.citizen && item.citizen.name) {
      return item.citizen.name;
    }
    return t("someone", { id: id });
  }

  function roleText(role) {
    return has("role_" + role) ? t("role_" + role) : t("companion");
  }

  function companionsOf(item) {
    return item && Array.isArray(item.companions) ? item.companions : [];
  }

  function companionWaiting(item, companion) {
    return !CLOSED[item.state] && companion.lobby && companion.lobby.enteredAt && !companion.lobby.admittedAt;
  }

  /** The key of one wait: the booking for the citizen, booking|companion-N for a companion. */
  function waitKey(id, participant) {
    return participant && participant !== "citizen" ? id + "|" + participant : id;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  function hiddenText(text) {
    return element("span", "visually-hidden", text);
  }

  /* ---- status and errors ---- */

  function setStatus(text) {
    var region = $("console-status");
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = text;
    }, 50);
  }

  function showError(text) {
    $("console-error").textContent = text || "";
  }

  function readProblem(response) {
    return GatewayPage.readProblem(response);
  }

  /** The text for a problem+json answer: ours for the codes we know, else the server's title. */
  function problemText(response, problem) {
    var known = {
      not_waiting: "errNotWaiting",
      forbidden: "errForbidden",
      not_found: "errNotFound",
      unknown_booking: "errNotFound",
      session_not_found: "errNotFound",
      rate_limited: "errRateLimited",
      room_not_ready: "errRoomNotReady",
      missing_contact: "errMissingContact"
    };
    var code = problem && problem.code;
    if (code && known[code]) {
      return t(known[code]);
    }
    if (problem && problem.title) {
      var text = problem.title;
      if (Array.isArray(problem.errors) && problem.errors.length) {
        text +=
          ": " +
          problem.errors
            .map(function (e) {
              return (e.field ? e.field + " " : "") + (e.message || "");
            })
            .join("; ");
      }
      return text;
    }
    if (response.status === 403) {
      return t("errForbidden");
    }
    if (response.status === 404) {
      return t("errNotFound");
    }
    if (response.status === 429) {
      return t("errRateLimited");
    }
    return t("errHttp", { status: response.status });
  }

  function SignedOut() {}

  /** An API call with the bearer token; a 401 signs the attendant out. */
  function api(method, path, body) {
    var headers = { Accept: "application/json", Authorization: "Bearer " + token };
    var init = { method: method, headers: headers, cache: "no-store", credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      if (response.status === 401) {
        signOut(t("tokenRejected"));
        throw new SignedOut();
      }
      return response;
    });
  }

  function sessionPath(id, action) {
    return "/v1/sessions/" + encodeURIComponent(id) + "/" + action;
  }

  /* ---- sound ---- */

  function unlockAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) {
      $("sound-on").hidden = true;
      return;
    }
    if (!audioContext) {
      try {
        audioContext = new Context();
      } catch (error) {
        return;
      }
      audioContext.onstatechange = updateSoundButton;
    }
    if (audioContext.state === "suspended") {
      audioContext.resume().then(updateSoundButton, updateSoundButton);
    }
    updateSoundButton();
  }

  function updateSoundButton() {
    $("sound-on").hidden = !token || !audioContext || audioContext.state === "running";
  }

  /** A short beep (~0.3 s) with WebAudio. */
  function beep() {
    beeps += 1;
    $("alerts").setAttribute("data-beeps", String(beeps));
    if (!audioContext) {
      return;
    }
    if (audioContext.state === "suspended") {
      audioContext.resume().catch(function () {});
    }
    try {
      var now = audioContext.currentTime;
      var oscillator = audioContext.createOscillator();
      var gain = audioContext.createGain();
      oscillator.type = "sine";
      oscillator.frequency.setValueAtTime(880, now);
      gain.gain.setValueAtTime(0.0001, now);
      gain.gain.exponentialRampToValueAtTime(0.3, now + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.3);
      oscillator.connect(gain);
      gain.connect(audioContext.destination);
      oscillator.start(now);
      oscillator.stop(now + 0.32);
    } catch (error) {
      /* no sound: the visible alert stays */
    }
  }

  /* ---- alerts ---- */

  function pushAlert(kind, id, text, phone) {
    var box = $("alerts");
    var item = element("div", "alert-item " + kind);
    item.setAttribute("data-booking-id", id);
    var line = element("p", null, text);
    if (phone) {
      line.appendChild(document.createTextNode(" "));
      var call = element("a", null, t("callPhone", { phone: phone }));
      call.setAttribute("href", telHref(phone));
      line.appendChild(call);
    }
    var close = element("button", "secondary dismiss", t("dismiss"));
    close.type = "button";
    close.setAttribute("aria-label", t("dismissAlert", { text: text }));
    item.appendChild(line);
    item.appendChild(close);
    box.insertBefore(item, box.firstChild);
    while (box.children.length > MAX_ALERTS) {
      box.removeChild(box.lastChild);
    }
    $("no-alerts").hidden = true;
    beep();
  }

  function alertWaiting(id, participant) {
    var companion = null;
    if (participant && participant !== "citizen") {
      companion = companionsOf(items[id]).filter(function (c) {
        return c.id === participant;
      })[0];
    }
    if (participant && participant !== "citizen") {
      pushAlert("waiting", id, t("alertCompanionWaiting", {
        name: companion ? companion.name : t("companion"),
        role: roleText(companion && companion.role),
        citizen: nameOf(id)
      }), null);
    } else {
      pushAlert("waiting", id, t("alertWaiting", { name: nameOf(id) }), null);
    }
  }

  function alertLate(id, phone) {
    var item = items[id];
    var number = phone || (item && item.citizen && item.citizen.phone) || null;
    pushAlert("late", id, t("alertLate", { name: nameOf(id) }), number);
  }

  /* ---- agenda ---- */

  function refreshAgenda() {
    if (inflight) {
      again = true;
      return inflight;
    }
    inflight = loadAgenda().then(
      function () {
        inflight = null;
        if (again) {
          again = false;
          return refreshAgenda();
        }
        return null;
      },
      function () {
        inflight = null;
        again = false;
      }
    );
    return inflight;
  }

  function scheduleRefresh() {
    if (refreshTimer) {
      return;
    }
    refreshTimer = window.setTimeout(function () {
      refreshTimer = 0;
      refreshAgenda();
    }, 100);
  }

  function loadAgenda() {
    if (!token) {
      return Promise.resolve();
    }
    var date = $("agenda-date").value || today();
    var startedAt = Date.now();
    return api("GET", "/v1/attendant/agenda?date=" + encodeURIComponent(date))
      .then(function (response) {
        if (!response.ok) {
          return readProblem(response).then(function (problem) {
            agendaError = true;
            showError(problemText(response, problem));
          });
        }
        return response.json().then(function (body) {
          if (agendaError) {
            agendaError = false;
            showError("");
          }
          applyAgenda(body, date, startedAt);
        });
      })
      .catch(function (error) {
        if (!(error instanceof SignedOut) && token) {
          agendaError = true;
          showError(t("errNetwork"));
        }
      });
  }

  function applyAgenda(body, date, startedAt) {
    var list = body && Array.isArray(body.items) ? body.items.slice() : [];
    list.sort(function (a, b) {
      return (parseTime(a.startsAt) || 0) - (parseTime(b.startsAt) || 0);
    });
    var fresh = {};
    list.forEach(function (item) {
      if (item && item.bookingId) {
        item.waitingSince = waitingSince(item, startedAt);
        fresh[item.bookingId] = item;
      }
    });
    items = fresh;
    var toAlert = [];
    var lateToAlert = [];
    list.forEach(function (item) {
      var id = item.bookingId;
      if (item.state === "waiting") {
        if (!alertedWaiting[id]) {
          alertedWaiting[id] = Date.now();
          if (agendaLoaded) {
            toAlert.push(id); // began waiting while the stream said nothing (or before it did)
          }
        }
      } else if (NOT_WAITING[item.state] && alertedWaiting[id] && alertedWaiting[id] < startedAt) {
        delete alertedWaiting[id];
      }
      companionsOf(item).forEach(function (companion) {
        var key = waitKey(id, companion.id);
        if (companionWaiting(item, companion)) {
          if (!alertedWaiting[key]) {
            alertedWaiting[key] = Date.now();
            if (agendaLoaded) {
              toAlert.push(key);
            }
          }
        } else if (alertedWaiting[key] && alertedWaiting[key] < startedAt) {
          delete alertedWaiting[key];
        }
      });
      if (item.state === "late" && !alertedLate[id]) {
        alertedLate[id] = true;
        if (agendaLoaded) {
          lateToAlert.push(id);
        }
      }
    });
    agendaLoaded = true;
    $("agenda-caption").textContent = date === today() ? t("agendaToday") : t("agendaOf", { date: formatDay(date) });
    renderRows(list);
    renderLobby();
    renderScriptHeader();
    toAlert.forEach(function (key) {
      var parts = key.split("|");
      alertWaiting(parts[0], parts[1]);
    });
    lateToAlert.forEach(function (id) {
      alertLate(id, null);
    });
  }

  function waitingSince(item, fetchedAt) {
    if (item.state !== "waiting") {
      return null;
    }
    var entered = item.lobby ? parseTime(item.lobby.enteredAt) : null;
    if (entered !== null) {
      return entered;
    }
    if (typeof item.waitingSeconds === "number") {
      return fetchedAt - item.waitingSeconds * 1000;
    }
    return null;
  }

  function renderRows(list) {
    var body = $("agenda-rows");
    var keep = {};
    list.forEach(function (item, index) {
      var id = item.bookingId;
      keep[id] = true;
      var row = rows[id];
      if (!row) {
        row = createRow(id);
        rows[id] = row;
      }
      updateRow(row, item);
      if (body.children[index] !== row) {
        body.insertBefore(row, body.children[index] || null);
      }
    });
    Object.keys(rows).forEach(function (id) {
      if (!keep[id]) {
        if (rows[id].parentNode) {
          rows[id].parentNode.removeChild(rows[id]);
        }
        delete rows[id];
      }
    });
    $("agenda-empty").hidden = list.length > 0;
  }

  function actionButton(className, key) {
    var button = element("button", className, t(key));
    button.type = "button";
    button.appendChild(hiddenText(""));
    return button;
  }

  function createRow(id) {
    var row = element("tr");
    row.setAttribute("data-booking-id", id);
    row.appendChild(element("td", "time"));
    var citizen = element("th", "citizen");
    citizen.setAttribute("scope", "row");
    row.appendChild(citizen);
    row.appendChild(element("td", "topic"));
    row.appendChild(element("td", "state"));
    var actions = element("td", "actions");
    var buttons = element("div", "buttons");
    buttons.appendChild(actionButton("admit", "btnAdmit"));
    buttons.appendChild(actionButton("admit-all", "btnAdmitAll"));
    buttons.appendChild(actionButton("message secondary", "btnMessage"));
    buttons.appendChild(actionButton("end secondary", "btnEnd"));
    var phone = actionButton("fallback secondary", "btnFallbackPhone");
    phone.setAttribute("data-channel", "phone");
    buttons.appendChild(phone);
    var mail = actionButton("fallback secondary", "btnFallbackEmail");
    mail.setAttribute("data-channel", "email");
    buttons.appendChild(mail);
    buttons.appendChild(actionButton("select secondary", "btnScript"));
    actions.appendChild(buttons);
    row.appendChild(actions);
    return row;
  }

  function updateRow(row, item) {
    var id = item.bookingId;
    var state = item.state || "";
    var citizen = item.citizen || {};
    var name = citizen.name || id;
    row.setAttribute("data-state", state);
    row.className = (state === "waiting" ? "is-waiting" : "") + (id === selectedId ? " selected" : "");

    var cells = row.children;
    cells[0].textContent = formatTime(parseTime(item.startsAt)) + "–" + formatTime(parseTime(item.endsAt));

    var companions = companionsOf(item);
    var signature = [name, citizen.phone || "", citizen.email || ""]
      .concat(
        companions.map(function (c) {
          return [c.id, c.role, c.name, companionWaiting(item, c) ? "w" : c.lobby && c.lobby.admittedAt ? "a" : ""].join(":");
        })
      )
      .join("|");
    if (cells[1].getAttribute("data-signature") !== signature) {
      cells[1].setAttribute("data-signature", signature);
      cells[1].textContent = "";
      cells[1].appendChild(document.createTextNode(name));
      if (citizen.phone) {
        var tel = element("a", "contact tel", citizen.phone);
        tel.setAttribute("href", telHref(citizen.phone));
        cells[1].appendChild(tel);
      }
      if (citizen.email) {
        cells[1].appendChild(element("span", "contact email", citizen.email));
      }
      if (!citizen.phone && !citizen.email) {
        cells[1].appendChild(element("span", "contact", t("noContact")));
      }
      companions.forEach(function (c) {
        var line = t("companionLine", { role: roleText(c.role), name: c.name });
        if (companionWaiting(item, c)) {
          line += " — " + t("companionWaiting");
        } else if (c.lobby && c.lobby.admittedAt) {
          line += " — " + t("companionAdmitted");
        }
        cells[1].appendChild(element("span", "contact companion", line));
      });
    }

    var topic = cells[2];
    topic.textContent = "";
    if (item.topic && (item.topic.theme || item.topic.subtheme)) {
      topic.appendChild(document.createTextNode([item.topic.theme, item.topic.subtheme].filter(Boolean).join(" — ")));
      if (item.topic.reason) {
        topic.appendChild(element("small", null, item.topic.reason));
      }
    } else {
      topic.textContent = item.service || "";
    }

    var stateCell = cells[3];
    stateCell.textContent = "";
    stateCell.appendChild(element("span", "state-text", has("state_" + state) ? t("state_" + state) : state));
    if (state === "waiting" && item.waitingSince !== null && item.waitingSince !== undefined) {
      stateCell.appendChild(document.createTextNode(" " + t("waitingFor") + " "));
      var timer = element("span", "wait-timer", formatClock((Date.now() - item.waitingSince) / 1000));
      timer.setAttribute("data-since", String(item.waitingSince));
      stateCell.appendChild(timer);
    }
    if (Array.isArray(item.fallbacks) && item.fallbacks.length) {
      var lines = element("span", "fallbacks");
      lines.textContent = item.fallbacks
        .map(function (f) {
          var channel = has("channel_" + f.channel) ? t("channel_" + f.channel) : f.channel;
          var status = has("fallbackStatus_" + f.status) ? t("fallbackStatus_" + f.status) : f.status || "";
          return t("fallbackLine", { channel: channel, status: status, time: formatTime(parseTime(f.at)) });
        })
        .join("; ");
      stateCell.appendChild(lines);
    }

    var open = !CLOSED[state];
    var buttons = cells[4].querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      var label = button.querySelector(".visually-hidden");
      if (label && label.textContent !== " " + name) {
        label.textContent = " " + name;
      }
      var classes = button.classList;
      if (classes.contains("admit-all")) {
        var companionsWaiting = companionsOf(item).some(function (c) {
          return companionWaiting(item, c);
        });
        button.hidden = !companionsWaiting;
        button.disabled = !companionsWaiting;
      } else if (classes.contains("admit")) {
        button.disabled = state !== "waiting";
      } else if (classes.contains("message") || classes.contains("end")) {
        button.disabled = !open;
      } else if (classes.contains("fallback")) {
        var channel = button.getAttribute("data-channel");
        var known = channel === "phone" ? !!citizen.phone : !!citizen.email;
        button.hidden = !known;
        button.disabled = !open || !known;
      }
    }
  }

  function renderLobby() {
    var list = $("lobby-list");
    list.textContent = "";
    var waiting = Object.keys(items)
      .map(function (id) {
        return items[id];
      })
      .filter(function (item) {
        return item.state === "waiting";
      })
      .sort(function (a, b) {
        return (a.waitingSince || 0) - (b.waitingSince || 0);
      });
    waiting.forEach(function (item) {
      var li = element("li");
      li.setAttribute("data-booking-id", item.bookingId);
      li.appendChild(element("strong", null, nameOf(item.bookingId)));
      if (item.waitingSince !== null && item.waitingSince !== undefined) {
        li.appendChild(document.createTextNode(" — " + t("lobbySince", { time: formatTime(item.waitingSince) }) + " · "));
        var timer = element("span", "wait-timer", formatClock((Date.now() - item.waitingSince) / 1000));
        timer.setAttribute("data-since", String(item.waitingSince));
        li.appendChild(timer);
      }
      list.appendChild(li);
    });
    var companionCount = 0;
    Object.keys(items).forEach(function (id) {
      var item = items[id];
      companionsOf(item).forEach(function (c) {
        if (!companionWaiting(item, c)) {
          return;
        }
        companionCount += 1;
        var since = parseTime(c.lobby.enteredAt);
        var li = element("li");
        li.setAttribute("data-booking-id", id);
        li.setAttribute("data-participant", c.id);
        li.appendChild(element("strong", null, t("lobbyCompanion", { name: c.name, role: roleText(c.role), citizen: nameOf(id) })));
        if (since !== null) {
          li.appendChild(document.createTextNode(" — " + t("lobbySince", { time: formatTime(since) }) + " · "));
          var timer = element("span", "wait-timer", formatClock((Date.now() - since) / 1000));
          timer.setAttribute("data-since", String(since));
          li.appendChild(timer);
        }
        list.appendChild(li);
      });
    });
    $("lobby-empty").hidden = waiting.length + companionCount > 0;
  }

  function tickTimers() {
    var timers = document.querySelectorAll(".wait-timer[data-since]");
    var now = Date.now();
    for (var i = 0; i < timers.length; i++) {
      var since = Number(timers[i].getAttribute("data-since"));
      var text = formatClock((now - since) / 1000);
      if (timers[i].textContent !== text) {
        timers[i].textContent = text;
      }
    }
  }

  /* ---- actions ---- */

  function onRowClick(event) {
    var button = event.target.closest ? event.target.closest("button") : null;
    if (!button || button.disabled) {
      return;
    }
    var row = button.closest("tr");
    var id = row && row.getAttribute("data-booking-id");
    if (!id) {
      return;
    }
    var classes = button.classList;
    if (classes.contains("admit-all")) {
      admit(id, { all: true });
    } else if (classes.contains("admit")) {
      admit(id);
    } else if (classes.contains("message")) {
      openMessage(id, button);
    } else if (classes.contains("end")) {
      openEnd(id, button);
    } else if (classes.contains("fallback")) {
      sendFallback(id, button.getAttribute("data-channel"));
    } else if (classes.contains("select")) {
      selectBooking(id, true);
    }
  }

  function admit(id, body) {
    showError("");
    selectBooking(id, false);
    api("POST", sessionPath(id, "admit"), body)
      .then(function (response) {
        if (!response.ok) {
          return readProblem(response).then(function (problem) {
            showError(problemText(response, problem));
          });
        }
        return response.json().then(function (body) {
          var url = safeUrl(body && body.hostJoinUrl);
          if (url) {
            $("host-link").setAttribute("href", url);
            $("host-text").textContent = t("hostText", { name: nameOf(id) });
            $("host-panel").hidden = false;
            window.open(url, "_blank", "noopener");
          }
          setStatus(t("admitted", { name: nameOf(id) }));
          scheduleRefresh();
        });
      })
      .catch(function (error) {
        if (!(error instanceof SignedOut)) {
          showError(t("errNetwork"));
        }
      });
  }

  function describe(id) {
    var item = items[id];
    return t("dialogWho", { name: nameOf(id), time: item ? formatTime(parseTime(item.startsAt)) : "" });
  }

  function openDialog(dialog, opener) {
    dialogOpener = opener || null;
    if (typeof dialog.showModal === "function") {
      dialog.showModal();
    } else {
      dialog.setAttribute("open", "");
    }
  }

  function closeDialog(dialog) {
    if (typeof dialog.close === "function") {
      dialog.close();
    } else {
      dialog.removeAttribute("open");
      restoreFocus();
    }
  }

  function restoreFocus() {
    var opener = dialogOpener;
    dialogOpener = null;
    if (opener && opener.isConnected && !opener.disabled) {
      opener.focus();
    } else {
      $("content").focus();
    }
  }

  function openMessage(id, opener) {
    messageTarget = id;
    $("message-who").textContent = describe(id);
    $("message-text").value = "";
    $("message-text").removeAttribute("aria-invalid");
    $("message-error").textContent = "";
    openDialog($("message-dialog"), opener);
    $("message-text").focus();
  }

  function onMessageSubmit(event) {
    event.preventDefault();
    var id = messageTarget;
    var field = $("message-text");
    var text = field.value.trim();
    if (!id) {
      return;
    }
    if (!text) {
      field.setAttribute("aria-invalid", "true");
      $("message-error").textContent = t("messageEmpty");
      field.focus();
      return;
    }
    field.removeAttribute("aria-invalid");
    api("POST", sessionPath(id, "messages"), { text: text })
      .then(function (response) {
        if (!response.ok) {
          return readProblem(response).then(function (problem) {
            $("message-error").textContent = problemText(response, problem);
          });
        }
        closeDialog($("message-dialog"));
        setStatus(t("messageSent", { name: nameOf(id) }));
        return null;
      })
      .catch(function (error) {
        if (!(error instanceof SignedOut)) {
          $("message-error").textContent = t("errNetwork");
        }
      });
  }

  function openEnd(id, opener) {
    endTarget = id;
    $("end-who").textContent = describe(id);
    $("outcome-resolved").checked = true;
    $("end-error").textContent = "";
    openDialog($("end-dialog"), opener);
    $("outcome-resolved").focus();
  }

  function onEndSubmit(event) {
    event.preventDefault();
    var id = endTarget;
    if (!id) {
      return;
    }
    var chosen = $("end-form").querySelector("input[name=outcome]:checked");
    var outcome = chosen ? chosen.value : "resolved";
    api("POST", sessionPath(id, "end"), { outcome: outcome })
      .then(function (response) {
        if (!response.ok) {
          return readProblem(response).then(function (problem) {
            $("end-error").textContent = problemText(response, problem);
          });
        }
        closeDialog($("end-dialog"));
        setStatus(t("ended", { name: nameOf(id) }));
        scheduleRefresh();
        return null;
      })
      .catch(function (error) {
        if (!(error instanceof SignedOut)) {
          $("end-error").textContent = t("errNetwork");
        }
      });
  }

  function sendFallback(id, channel) {
    if (channel !== "phone" && channel !== "email") {
      return;
    }
    showError("");
    api("POST", sessionPath(id, "fallback"), { channel: channel })
      .then(function (response) {
        if (!response.ok) {
          return readProblem(response).then(function (problem) {
            showError(problemText(response, problem));
          });
        }
        setStatus(t(channel === "phone" ? "fallbackSentPhone" : "fallbackSentEmail", { name: nameOf(id) }));
        scheduleRefresh();
        return null;
      })
      .catch(function (error) {
        if (!(error instanceof SignedOut)) {
          showError(t("errNetwork"));
        }
      });
  }

  /* ---- the attendance script ---- */

  function scriptInputs() {
    return $("script-form").querySelectorAll("input");
  }

  function saveDraft() {
    if (!selectedId) {
      return;
    }
    var draft = {};
    var inputs = scriptInputs();
    for (var i = 0; i < inputs.length; i++) {
      draft[inputs[i].id] = inputs[i].checked;
    }
    scriptDrafts[selectedId] = draft;
  }

  function selectBooking(id, focus) {
    if (selectedId !== id) {
      saveDraft();
      selectedId = id;
      var draft = scriptDrafts[id] || {};
      var inputs = scriptInputs();
      for (var i = 0; i < inputs.length; i++) {
        inputs[i].checked = !!draft[inputs[i].id];
      }
      $("script-error").textContent = "";
    }
    Object.keys(rows).forEach(function (key) {
      rows[key].classList.toggle("selected", key === id);
    });
    $("script-fields").disabled = false;
    renderScriptHeader();
    if (focus) {
      $("greeting").focus();
    }
  }

  function renderScriptHeader() {
    if (!selectedId) {
      return;
    }
    var item = items[selectedId];
    $("script-booking").textContent = t("scriptFor", {
      name: nameOf(selectedId),
      time: item ? formatTime(parseTime(item.startsAt)) : ""
    });
  }

  function onScriptSubmit(event) {
    event.preventDefault();
    var id = selectedId;
    if (!id) {
      return;
    }
    var form = $("script-form");
    var auth = form.querySelector("input[name='auth-level']:checked");
    var caller = form.querySelector("input[name=caller]:checked");
    if (!auth) {
      $("script-error").textContent = t("scriptChooseAuth");
      $("auth-none").focus();
      return;
    }
    if (!caller) {
      $("script-error").textContent = t("scriptChooseCaller");
      $("caller-citizen").focus();
      return;
    }
    $("script-error").textContent = "";
    var checks = [];
    var boxes = form.querySelectorAll("input[name=checks]:checked");
    for (var i = 0; i < boxes.length; i++) {
      checks.push(boxes[i].value);
    }
    saveDraft();
    api("POST", sessionPath(id, "script"), { authenticationLevel: auth.value, caller: caller.value, checks: checks })
      .then(function (response) {
        if (!response.ok) {
          return readProblem(response).then(function (problem) {
            $("script-error").textContent = problemText(response, problem);
          });
        }
        setStatus(t("scriptSaved", { name: nameOf(id) }));
        return null;
      })
      .catch(function (error) {
        if (!(error instanceof SignedOut)) {
          $("script-error").textContent = t("errNetwork");
        }
      });
  }

  /* ---- events: fetch() + a small Server-Sent Events parser, reconnecting with Last-Event-ID ---- */

  function makeSSEParser(onEvent) {
    return GatewayPage.makeSSEParser(onEvent);
  }

  function setConnection(online) {
    var box = $("connection");
    box.textContent = online ? t("online") : t("offline");
    box.className = "connection " + (online ? "online" : "offline");
  }

  function startEvents() {
    stopEvents();
    var state = { stopped: false, controller: null, lastEventId: null, connectedOnce: false };
    events = state;
    function connect() {
      if (state.stopped || !token) {
        return;
      }
      state.controller = typeof AbortController === "function" ? new AbortController() : null;
      var headers = { Accept: "text/event-stream", Authorization: "Bearer " + token };
      if (state.lastEventId !== null) {
        headers["Last-Event-ID"] = state.lastEventId;
      }
      fetch("/v1/attendant/events", {
        headers: headers,
        cache: "no-store",
        credentials: "same-origin",
        signal: state.controller ? state.controller.signal : undefined
      })
        .then(function (response) {
          if (response.status === 401) {
            state.stopped = true;
            signOut(t("tokenRejected"));
            return null;
          }
          if (!response.ok || !response.body) {
            throw new Error("events " + response.status);
          }
          setConnection(true);
          if (state.connectedOnce) {
            scheduleRefresh(); // catch up with what the replay may not cover
          }
          state.connectedOnce = true;
          var parser = makeSSEParser(function (event) {
            if (event.id !== null) {
              state.lastEventId = event.id;
            }
            onEvent(event);
          });
          var reader = response.body.getReader();
          var decoder = new TextDecoder();
          function pump() {
            return reader.read().then(function (chunk) {
              if (chunk.done || state.stopped) {
                return null;
              }
              parser.push(decoder.decode(chunk.value, { stream: true }));
              return pump();
            });
          }
          return pump();
        })
        .catch(function () {
          /* dropped: reconnect below */
        })
        .then(function () {
          if (!state.stopped) {
            setConnection(false);
            window.setTimeout(connect, 1000);
          }
        });
    }
    connect();
  }

  function stopEvents() {
    if (events) {
      events.stopped = true;
      if (events.controller) {
        events.controller.abort();
      }
      events = null;
    }
  }

  function onEvent(event) {
    if (!events) {
      return;
    }
    var data = {};
    try {
      data = event.data ? JSON.parse(event.data) : {};
    } catch (error) {
      return;
    }
    var id = data && typeof data.bookingId === "string" ? data.bookingId : null;
    switch (event.type) {
      case "citizen.waiting":
        onCitizenWaiting(id, typeof data.participant === "string" ? data.participant : null);
        break;
      case "session.late":
        onLate(id, data.phone);
        break;
      case "session.updated":
        if (id && data.state && data.state !== "waiting" && NOT_WAITING[data.state]) {
          delete alertedWaiting[id];
        }
        scheduleRefresh();
        break;
      case "fallback.sent":
        if (id) {
          setStatus(t(data.channel === "phone" ? "fallbackEventPhone" : "fallbackEventEmail", { name: nameOf(id) }));
        }
        scheduleRefresh();
        break;
      default:
        // citizen.left and anything new: the agenda is the truth.
        scheduleRefresh();
        break;
    }
  }

  /** Alerts once per wait: a repeated event (replay, re-entry with the code) for a booking
      already waiting says nothing new. */
  function onCitizenWaiting(id, participant) {
    if (!id) {
      scheduleRefresh();
      return;
    }
    var key = waitKey(id, participant);
    if (alertedWaiting[key]) {
      scheduleRefresh();
      return;
    }
    alertedWaiting[key] = Date.now();
    if (items[id]) {
      alertWaiting(id, participant);
      scheduleRefresh();
    } else {
      refreshAgenda().then(function () {
        alertWaiting(id, participant);
      });
    }
  }

  function onLate(id, phone) {
    if (!id) {
      scheduleRefresh();
      return;
    }
    if (alertedLate[id]) {
      scheduleRefresh();
      return;
    }
    alertedLate[id] = true;
    if (items[id]) {
      alertLate(id, phone);
      scheduleRefresh();
    } else {
      refreshAgenda().then(function () {
        alertLate(id, phone);
      });
    }
  }

  /* ---- signing in and out ---- */

  function claimsOf(jwt) {
    try {
      var part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      while (part.length % 4) {
        part += "=";
      }
      var binary = window.atob(part);
      var bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i++) {
        bytes[i] = binary.charCodeAt(i);
      }
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (error) {
      return {};
    }
  }

  function readStoredToken() {
    return GatewayPage.readStored(TOKEN_KEY);
  }

  function storeToken(value) {
    GatewayPage.store(TOKEN_KEY, value);
  }

  function begin(focusPage) {
    var claims = claimsOf(token);
    var who = claims.name || claims.sub;
    $("who").textContent = who ? t("who", { name: who }) : "";
    $("who").hidden = !who;
    $("login").hidden = true;
    $("app").hidden = false;
    $("logout").hidden = false;
    $("login-error").textContent = "";
    if (!$("agenda-date").value) {
      $("agenda-date").value = today();
    }
    updateSoundButton();
    if (focusPage) {
      $("content").focus();
    }
    agendaLoaded = false;
    refreshAgenda().then(function () {
      if (token) {
        startEvents();
      }
    });
    if (periodicTimer) {
      window.clearInterval(periodicTimer);
    }
    periodicTimer = window.setInterval(function () {
      if (token) {
        refreshAgenda();
      }
    }, 60000);
  }

  function signOut(message) {
    stopEvents();
    token = null;
    storeToken(null);
    if (periodicTimer) {
      window.clearInterval(periodicTimer);
      periodicTimer = 0;
    }
    items = {};
    alertedWaiting = {};
    alertedLate = {};
    agendaLoaded = false;
    selectedId = null;
    scriptDrafts = {};
    Object.keys(rows).forEach(function (id) {
      if (rows[id].parentNode) {
        rows[id].parentNode.removeChild(rows[id]);
      }
    });
    rows = {};
    $("alerts").textContent = "";
    $("no-alerts").hidden = false;
    $("host-panel").hidden = true;
    $("script-fields").disabled = true;
    $("script-booking").textContent = t("scriptNone");
    $("app").hidden = true;
    $("login").hidden = false;
    $("logout").hidden = true;
    $("who").hidden = true;
    $("sound-on").hidden = true;
    showError("");
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  function onLogin(event) {
    event.preventDefault();
    var value = $("token").value.trim().replace(/^Bearer\s+/i, "");
    if (!value) {
      $("login-error").textContent = t("tokenMissing");
      $("token").setAttribute("aria-invalid", "true");
      $("token").focus();
      return;
    }
    $("token").removeAttribute("aria-invalid");
    unlockAudio(); // the click or Enter is the user gesture that lets the alerts make a sound
    token = value;
    storeToken(value);
    $("token").value = "";
    begin(true);
  }

  /* ---- start ---- */

  applyStaticTexts();
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", function () {
    signOut("");
    setStatus(t("signedOut"));
  });
  $("sound-on").addEventListener("click", function () {
    unlockAudio();
    setStatus(t("soundReady"));
  });
  $("agenda-rows").addEventListener("click", onRowClick);
  $("agenda-refresh").addEventListener("click", function () {
    refreshAgenda();
  });
  $("agenda-date").addEventListener("change", function () {
    refreshAgenda();
  });
  $("alerts").addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.dismiss") : null;
    if (!button) {
      return;
    }
    var item = button.closest(".alert-item");
    var next = item && (item.nextElementSibling || item.previousElementSibling);
    if (item) {
      item.parentNode.removeChild(item);
    }
    var focusTarget = next && next.querySelector("button.dismiss");
    if (focusTarget) {
      focusTarget.focus();
    } else {
      $("no-alerts").hidden = false;
      $("alerts-title").setAttribute("tabindex", "-1");
      $("alerts-title").focus();
    }
  });
  $("message-form").addEventListener("submit", onMessageSubmit);
  $("message-back").addEventListener("click", function () {
    closeDialog($("message-dialog"));
  });
  $("end-form").addEventListener("submit", onEndSubmit);
  $("end-back").addEventListener("click", function () {
    closeDialog($("end-dialog"));
  });
  $("message-dialog").addEventListener("close", restoreFocus);
  $("end-dialog").addEventListener("close", restoreFocus);
  $("script-form").addEventListener("submit", onScriptSubmit);
  $("script-form").addEventListener("change", saveDraft);
  ["pointerdown", "keydown"].forEach(function (type) {
    document.addEventListener(type, function () {
      if (token && audioContext && audioContext.state !== "running") {
        audioContext.resume().then(updateSoundButton, function () {});
      }
    });
  });
  window.setInterval(tickTimers, 1000);

  var stored = readStoredToken();
  if (stored) {
    token = stored;
    unlockAudio(); // may stay suspended until the first click: the "turn on sounds" button shows
    begin(false);
  }
})();
