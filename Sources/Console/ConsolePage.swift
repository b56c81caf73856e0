/// The console's two HTML pages. The main page is a shell filled by a script that polls the
/// JSON API once a second; every value is inserted as text, never as markup.
enum ConsolePage {
    static let style = """
        <style>
        body{font:14px system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232a}
        header{background:#1d3557;color:#fff;padding:10px 20px;display:flex;justify-content:space-between;align-items:center}
        header h1{font-size:18px;margin:0}
        main{padding:16px 20px;display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px}
        section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:12px 16px}
        h2{font-size:15px;margin:0 0 8px}
        table{border-collapse:collapse;width:100%}
        td,th{text-align:left;padding:3px 6px;border-bottom:1px solid #eef0f2;font-size:13px;vertical-align:top}
        progress{width:140px}
        pre{background:#f0f2f4;padding:8px;overflow:auto;max-height:320px;font-size:12px}
        .muted{color:#6b7580}.error{color:#b00020}.ok{color:#1b7f3b}
        input[type=text],input[type=password]{padding:4px;width:90px}
        td{white-space:normal} td span{white-space:nowrap}
        button{padding:4px 10px}
        </style>
        """

    /// The login page; `locked`: protected at start, its password since removed by a reload.
    static func login(error: String?, enabled: Bool, locked: Bool = false) -> String {
        let message = error.map { "<p class=\"error\" id=\"login-error\">\(escape($0))</p>" } ?? ""
        let form = locked && !enabled
            ? "<p id=\"login-locked\">The console password was removed from config.json at a reload. The console "
                + "stays protected until ossftp restarts: use the token, if one is set, or restart.</p>"
            : enabled ? """
            <form method="post" action="/login">
            <label>Password <input type="password" name="password" id="password" autofocus></label>
            <button type="submit" id="login">Log in</button>
            </form>
            """ : "<p>No console password is set: the console is read-only on loopback. Open <a href=\"/\">the status page</a>.</p>"
        return """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>ossftp console: log in</title>\(style)</head>
            <body><header><h1>ossftp</h1></header><main><section><h2>Log in</h2>\(message)\(form)</section></main></body></html>
            """
    }

    /// Edits need a password or token, so a protected console is also an editable one.
    static func main(protected: Bool) -> String {
        let canEdit = protected
        let logout = protected ? "<form method=\"post\" action=\"/logout\"><button id=\"logout\">Log out</button></form>" : ""
        let editNote = canEdit ? "" : "<p class=\"muted\">Set a console password or token to edit settings.</p>"
        return """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>ossftp console</title>\(style)</head>
            <body><header><h1>ossftp <span id="version" class="muted"></span></h1>\(logout)</header><main>
            <section><h2>Status</h2><table><tbody id="status"></tbody></table></section>
            <section><h2>Sessions</h2><table><thead><tr><th>User</th><th>Address</th><th>Directory</th><th>Connected</th><th>Idle</th></tr></thead><tbody id="sessions"></tbody></table></section>
            <section><h2>Transfers</h2><table><thead><tr><th>User</th><th>Path</th><th>Progress</th><th>Speed</th></tr></thead><tbody id="transfers"></tbody></table></section>
            <section><h2>Spool</h2><p><progress id="spool-bar" value="0" max="1"></progress> <span id="spool-text"></span></p>
            <table><thead><tr><th>Pending upload</th><th>Size</th><th>Parts sent</th><th>State</th></tr></thead><tbody id="pending"></tbody></table>
            <table><thead><tr><th>Refused after its 226</th><th>Size</th><th>Kept in</th><th>Store's refusal</th></tr></thead><tbody id="refused"></tbody></table></section>
            <section><h2>Recent errors</h2><table><tbody id="errors"></tbody></table></section>
            <section><h2>Configuration</h2>\(editNote)<table><tbody id="settings"></tbody></table>
            <p id="edit-result"></p><pre id="config"></pre></section>
            <section style="grid-column:1/-1"><h2>Log</h2><pre id="log"></pre></section>
            </main><script>\(script(canEdit: canEdit))</script></body></html>
            """
    }

    static func script(canEdit: Bool) -> String {
        """
        const canEdit = \(canEdit);
        function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
        function row(cells) { const tr = document.createElement('tr'); for (const c of cells) { const td = document.createElement('td'); if (c instanceof Node) td.appendChild(c); else td.textContent = c; tr.appendChild(td); } return tr; }
        function fill(id, rows, empty) { const body = document.getElementById(id); body.replaceChildren(...(rows.length ? rows : [row([el('span', empty, 'muted')])])); }
        function bytes(n) { const u = ['B','KiB','MiB','GiB','TiB']; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return n.toFixed(i ? 1 : 0) + ' ' + u[i]; }
        function secs(s) { if (s < 60) return s + ' s'; if (s < 3600) return Math.floor(s / 60) + ' min'; return Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min'; }
        async function get(path) { const r = await fetch(path, {headers: {'Accept': 'application/json'}}); if (r.status === 401) { location.href = '/login'; throw new Error('login'); } return r.json(); }
        async function refresh() {
          try {
            const [status, sessions, spool, errors, log] = await Promise.all([get('/api/status'), get('/api/sessions'), get('/api/spool'), get('/api/errors'), get('/api/log')]);
            document.getElementById('version').textContent = status.version;
            fill('status', [row(['Uptime', secs(status.uptimeSeconds)]), row(['Started', status.startedAt]), row(['FTP', status.ftpAddress]), row(['Store', status.store]), row(['Sessions', String(status.sessions)]), row(['Transfers', String(status.transfers)])], '');
            fill('sessions', sessions.map(s => row([s.user || '(not logged in)', s.address, s.directory, secs(s.connectedSeconds), secs(s.idleSeconds)])), 'No sessions.');
            fill('transfers', sessions.filter(s => s.transfer).map(s => {
              const t = s.transfer; const bar = el('progress'); bar.className = 'transfer-progress';
              if (t.size) { bar.max = t.size; bar.value = t.bytes; } else { bar.removeAttribute('value'); }
              const cell = el('span'); cell.append(bar, el('span', ' ' + bytes(t.bytes) + (t.size ? ' of ' + bytes(t.size) : ''), 'transfer-bytes'));
              cell.dataset.bytes = t.bytes;
              return row([s.user || '', t.direction + ' ' + t.path, cell, bytes(t.bytesPerSecond) + '/s']);
            }), 'No transfers.');
            const bar = document.getElementById('spool-bar'); bar.max = spool.budgetBytes; bar.value = spool.usedBytes;
            document.getElementById('spool-text').textContent = bytes(spool.usedBytes) + ' of ' + bytes(spool.budgetBytes) + ' (peak ' + bytes(spool.peakBytes) + ')' + (spool.writeBack ? ', write-back' : '');
            fill('pending', spool.pending.map(p => row([p.bucket + '/' + p.key, bytes(p.size), p.partsSent + ' of ' + p.parts, p.state])), 'No pending uploads.');
            fill('refused', spool.refused.map(r => row([r.bucket + '/' + r.key, bytes(r.size), r.folder + (r.whole ? '' : ' (parts only)'), r.error])), 'None.');
            fill('errors', errors.slice().reverse().map(e => row([e.time, e.level, e.message + (e.metadata.request_id ? ' (request ' + e.metadata.request_id + ')' : '')])), 'No errors.');
            document.getElementById('log').textContent = log.map(e => e.time + ' ' + e.level + ' ' + e.message + ' ' + Object.entries(e.metadata).map(([k, v]) => k + '=' + v).join(' ')).join('\\n');
          } catch (e) { console.log(e); }
        }
        async function loadConfig() {
          const config = await get('/api/config');
          document.getElementById('config').textContent = (config.path ? config.path + '\\n' : '') + config.masked;
          fill('settings', config.settings.map(s => {
            const input = el('input'); input.type = 'text'; input.value = s.value; input.id = 'setting-' + s.key; input.disabled = !canEdit;
            const save = el('button', 'Save'); save.id = 'save-' + s.key; save.disabled = !canEdit;
            save.onclick = () => edit(s.key, input.value);
            const cell = el('span'); cell.append(input, ' ', save);
            return row([s.key, cell, el('span', s.help, 'muted')]);
          }), '');
        }
        async function edit(key, value) {
          const result = document.getElementById('edit-result');
          const r = await fetch('/api/config', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-OSSFTP-Console': '1'}, body: JSON.stringify({key, value})});
          const body = await r.json();
          if (r.ok) { result.className = 'ok'; result.textContent = key + ' saved and applied.'; await loadConfig(); }
          else { result.className = 'error'; result.textContent = body.error; }
        }
        refresh(); loadConfig(); setInterval(refresh, 1000);
        """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
