/** The page's own CSS and script: constants, inlined (one request per page, no build step). */

export const PAGE_CSS = `
:root{--bg:#f4f6f9;--panel:#fff;--ink:#1c2430;--muted:#6b7685;--line:#e2e7ee;
--ok:#1f9d55;--ok-bg:#e6f6ec;--rec:#0f8a7e;--rec-bg:#e2f5f2;--sus:#b7791f;--sus-bg:#fdf3dc;
--rem:#dd6b20;--rem-bg:#fdebdc;--down:#d32f2f;--down-bg:#fde4e4;--esc:#7b1020;--esc-bg:#f3d9de;
--unk:#7a8594;--unk-bg:#eceff3;font-family:system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",sans-serif}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--ink);font-size:14px;line-height:1.45}
a{color:inherit}code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.top{display:flex;align-items:center;gap:24px;padding:12px 28px;background:#101826;color:#e8edf5}
.brand{font-weight:700;font-size:18px;text-decoration:none;display:flex;align-items:center;gap:8px}
.brand .muted{color:#8fa0b8;font-weight:500}.logo{display:inline-grid;place-items:center;width:28px;height:28px;border-radius:7px;background:linear-gradient(135deg,#2fb87a,#147a4f);color:#fff;font-size:16px}
.meta{display:flex;gap:18px;color:#aab7ca;font-size:13px;flex:1}.meta code{color:#e8edf5}
.live{font-size:12px;color:#5ee39a;letter-spacing:.02em}.live.off{color:#f6ad55}
main{padding:20px 28px 8px;max-width:1500px;margin:0 auto}
.muted{color:var(--muted)}.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.banner{border-radius:10px;padding:12px 16px;margin:0 0 12px;display:flex;flex-wrap:wrap;gap:4px 12px;align-items:baseline;font-size:14px}
.banner strong{font-size:15px}.banner ul{flex-basis:100%;margin:4px 0 0;padding-left:20px}
.banner-red{background:repeating-linear-gradient(135deg,#c62828,#c62828 14px,#b71c1c 14px,#b71c1c 28px);color:#fff;box-shadow:0 2px 8px rgba(198,40,40,.35)}
.banner-red code{color:#fff}.banner-amber{background:#fff4d6;border:2px solid #e0a526;color:#5a3d00}
.summary{display:flex;flex-wrap:wrap;gap:10px;margin:4px 0 14px}
.stat{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:8px 14px;min-width:96px;display:flex;flex-direction:column;text-decoration:none;color:inherit}
a.stat:hover{border-color:var(--muted)}
.find{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:0 0 12px}
.find input,.find select,.find button{font:inherit;font-size:13px;padding:4px 10px;border:1px solid var(--line);border-radius:8px;background:var(--panel);color:var(--ink);min-width:0}
.find input{flex:0 1 280px}.find select{flex:0 1 auto;max-width:100%}.find button{cursor:pointer}
.pager{display:flex;flex-wrap:wrap;gap:4px 14px;align-items:baseline;margin:0 0 8px;font-size:13px}.pager-bottom{margin:8px 0 0}
.pager a{text-decoration:none;font-weight:600}.pager-at{color:var(--muted)}
.stat .num{font-size:22px;font-weight:700;line-height:1.1}.stat .lbl{color:var(--muted);font-size:12px}
.stat.st-ok .num{color:var(--ok)}.stat.st-recovered .num{color:var(--rec)}.stat.st-suspect .num{color:var(--sus)}.stat.st-remediating .num{color:var(--rem)}
.stat.st-down .num{color:var(--down)}.stat.st-escalated .num{color:var(--esc)}.stat.st-unknown .num{color:var(--unk)}
.filter{display:flex;gap:6px;align-items:center;margin:0 0 12px;flex-wrap:wrap}.filter-label{color:var(--muted);font-size:12px;margin-right:4px;text-transform:uppercase;letter-spacing:.05em}
.chip{padding:3px 12px;border-radius:999px;border:1px solid var(--line);background:var(--panel);text-decoration:none;font-size:13px}.chip.on{background:#101826;color:#fff;border-color:#101826}
.grid-wrap{display:inline-block;max-width:100%;vertical-align:top;overflow-x:auto;background:var(--panel);border:1px solid var(--line);border-radius:12px;box-shadow:0 1px 3px rgba(16,24,38,.05)}
table.grid{border-collapse:separate;border-spacing:6px}
.legend{max-width:1100px}
.grid thead th{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);font-weight:600;text-align:left;padding:4px 8px}
.grid th.srv{text-align:left;min-width:190px;padding:6px 10px;vertical-align:middle}
.srv-name{font-weight:650;font-size:15px;text-decoration:none;display:block}.srv-meta{color:var(--muted);font-size:12px;display:flex;gap:6px;align-items:center;flex-wrap:wrap}
.cell{border-radius:9px;padding:0;min-width:112px;width:128px;vertical-align:top;border:1px solid transparent}
.cell a{display:block;padding:7px 9px 5px;text-decoration:none}
.cell-head{display:flex;align-items:center;gap:6px;font-weight:650}.sym{display:inline-grid;place-items:center;width:18px;height:18px;border-radius:50%;color:#fff;font-size:11px}
.cell-sub{display:block;font-size:11.5px;opacity:.85;min-height:16px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:150px}
.cell.none{background:repeating-linear-gradient(45deg,#f7f8fa,#f7f8fa 6px,#f0f2f5 6px,#f0f2f5 12px)}
.st-ok.cell,.card.st-ok{background:var(--ok-bg);color:#135c34;border-color:#bfe6cd}.st-ok .sym{background:var(--ok)}
.st-recovered.cell,.card.st-recovered{background:var(--rec-bg);color:#0b5a52;border-color:#b5e3dc}.st-recovered .sym{background:var(--rec)}
.st-suspect.cell,.card.st-suspect{background:var(--sus-bg);color:#7a4d05;border-color:#f0d58f}.st-suspect .sym{background:var(--sus)}
.st-remediating.cell,.card.st-remediating{background:var(--rem);color:#fff;border-color:var(--rem)}.st-remediating .sym{background:#fff;color:var(--rem)}
.st-remediating .spark .fail{stroke:#fff}
.st-down.cell,.card.st-down{background:var(--down);color:#fff;border-color:var(--down)}.st-down .sym{background:#fff;color:var(--down)}
.st-escalated.cell,.card.st-escalated{background:var(--esc);color:#fff;border-color:var(--esc)}.st-escalated .sym{background:#fff;color:var(--esc)}
.st-unknown.cell,.card.st-unknown{background:var(--unk-bg);color:#4a5462;border-color:#d9dee5}.st-unknown .sym{background:var(--unk)}
.spark{display:block;margin-top:3px;opacity:.9}.spark path{fill:none;stroke:currentColor;stroke-width:1.5;stroke-linejoin:round;stroke-linecap:round}.spark .fail{stroke:#d32f2f;stroke-width:1.5}.st-down .spark .fail,.st-escalated .spark .fail{stroke:#fff}
.badge{display:inline-block;border-radius:999px;padding:0 8px;font-size:11px;font-weight:650;line-height:18px}
.badge.st-ok{background:var(--ok-bg);color:var(--ok)}.badge.st-down{background:var(--down-bg);color:var(--down)}.badge.st-unknown{background:var(--unk-bg);color:var(--unk)}
.flag{background:#fff4d6;color:#7a4d05;border:1px solid #f0d58f;border-radius:5px;padding:0 6px;font-size:11px}
.legend{display:flex;flex-wrap:wrap;gap:8px 16px;margin:14px 2px 0;font-size:12px;color:var(--muted)}
.key{display:inline-flex;gap:5px;align-items:center}.key span{display:inline-grid;place-items:center;width:16px;height:16px;border-radius:4px;color:#fff;font-size:10px}
.key.st-ok span{background:var(--ok)}.key.st-recovered span{background:var(--rec)}.key.st-unknown span{background:var(--unk)}.key.st-suspect span{background:var(--sus)}
.key.st-remediating span{background:var(--rem)}.key.st-down span{background:var(--down)}.key.st-escalated span{background:var(--esc)}
.empty{background:var(--panel);border:1px dashed var(--line);border-radius:12px;padding:28px;text-align:center;color:var(--muted)}
.crumb{margin:0 0 6px}.crumb a{color:var(--muted);text-decoration:none}
.server-title{font-size:24px;margin:0 0 2px;display:flex;gap:10px;align-items:center}
h2{font-size:15px;margin:22px 0 8px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:12px;margin-top:14px}
.card{border-radius:12px;padding:12px 14px;border:1px solid}.card-head{display:flex;justify-content:space-between;font-weight:700;font-size:16px}
.card-sub,.card-foot,.card-cert{font-size:12px;opacity:.9}.card-cert.cert-bad{font-weight:600}.card .spark{margin:6px 0}
table.conds{border-collapse:collapse;width:100%;background:var(--panel);border-radius:10px;overflow:hidden;border:1px solid var(--line)}
.conds th,.conds td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);font-size:13px;vertical-align:top}
.conds th{font-size:11px;text-transform:uppercase;color:var(--muted);letter-spacing:.05em}
.conds tr.c-bad td:first-child{border-left:4px solid var(--down)}.conds tr.c-ok td:first-child{border-left:4px solid var(--ok)}.conds tr.c-unknown td:first-child{border-left:4px solid var(--unk)}
.incident{background:var(--panel);border:1px solid var(--line);border-left:5px solid var(--down);border-radius:10px;padding:10px 14px;margin-bottom:10px}
.incident.closed{border-left-color:var(--ok)}.incident header{display:flex;gap:8px;align-items:center}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0;font-size:13px}.kv dt{color:var(--muted)}.kv dd{margin:0}
.attempt{background:var(--unk-bg);border-radius:5px;padding:0 6px;font-size:12px}
.transcript{border-top:1px solid var(--line);padding-top:8px;margin-top:6px}.transcript summary{cursor:pointer}
.verdict{font-weight:700}.v-ok{color:var(--ok)}.v-bad{color:var(--down)}
.steps{padding-left:22px;margin:8px 0}.step{margin-bottom:8px}.step-head{display:flex;gap:8px;align-items:baseline;font-size:13px}.step-id{font-weight:650}
.phases{margin:6px 0;font-size:13px}table.phases{border-collapse:collapse}table.phases td{padding:1px 10px 1px 0;vertical-align:baseline}table.phases td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.ph-step td:nth-child(2){padding-left:14px}
.step-outcome{margin-left:auto;font-size:12px;color:var(--muted)}.step.o-failed .step-outcome,.step.o-timeout .step-outcome{color:var(--down);font-weight:650}
pre.cmd,pre.out{margin:4px 0 0;padding:6px 10px;border-radius:7px;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
pre.cmd{background:#101826;color:#d6e2f0}pre.out{background:#f3f5f8;color:#2c3644;max-height:240px}
.foot{max-width:1500px;margin:18px auto;padding:0 28px 20px;color:var(--muted);font-size:12px}
@media (prefers-reduced-motion:no-preference){.cell{transition:background-color .4s,color .4s}}
.lang{display:flex;gap:8px;font-size:12px;color:#aab7ca}.lang a{color:#aab7ca}.lang-on{color:#e8edf5;font-weight:650}
.cell-svc{display:none}
.banner,.conds td:nth-child(4),.card,.incident,.kv dd,.unmonitored li,.srv-name,.server-title{overflow-wrap:anywhere}
.conds td:nth-child(-n+3),.conds td:nth-child(5){white-space:nowrap}
.table-wrap{max-width:100%;overflow-x:auto}
.uptimes{margin-top:8px;display:flex;flex-direction:column;gap:4px}
.uptime{display:grid;grid-template-columns:4.5em 1fr 4.5em;gap:6px;align-items:center;font-size:11px}
.uptime-pct{text-align:right;font-variant-numeric:tabular-nums}.ubar{width:100%;height:12px;display:block}
.ubar .u-up{fill:#2fb87a}.ubar .u-part{fill:#e0a526}.ubar .u-down{fill:#d32f2f}.ubar .u-none{fill:#b9c2ce}
.st-down .ubar .u-up,.st-escalated .ubar .u-up,.st-remediating .ubar .u-up{fill:#a7f0c6}
.st-down .ubar .u-down,.st-escalated .ubar .u-down,.st-remediating .ubar .u-down{fill:#fff}
.uptime-none{font-size:11px;margin-top:6px}
/* A phone: the header wraps (updated and live stay), each server is a card of its services. */
@media (max-width:640px){
.top{flex-wrap:wrap;gap:6px 14px;padding:10px 14px}.meta{order:3;flex-basis:100%;flex-wrap:wrap;gap:2px 12px;font-size:12px}
.lang{margin-left:auto}
main{padding:14px 12px 8px}.foot{padding:0 12px 16px}
.grid-wrap{display:block;overflow:visible;background:none;border:0;box-shadow:none;border-radius:0}
table.grid,.grid tbody{display:block;border-spacing:0}.grid thead{display:none}
.grid tr{display:grid;grid-template-columns:repeat(auto-fill,minmax(108px,1fr));gap:6px;background:var(--panel);border:1px solid var(--line);border-radius:12px;padding:10px;margin-bottom:10px}
.grid th.srv{grid-column:1/-1;min-width:0;padding:0 0 2px}
.cell{display:block;width:auto;min-width:0}.cell.none{display:none}.cell-sub{max-width:none}
.cell-svc{display:block;font-size:11px;text-transform:uppercase;letter-spacing:.05em;opacity:.8}
.cell .spark{max-width:100%}
.summary .stat{min-width:0;flex:1 1 88px}
.find input{flex:1 1 100%}
.cards{grid-template-columns:1fr}.card .spark{max-width:100%}
.server-title{font-size:20px;flex-wrap:wrap}
.kv{grid-template-columns:1fr}.kv dt{margin-top:4px}
.conds th:nth-child(2),.conds td:nth-child(2){display:none}
}
/* Dark: the same states, the same words, colours for a dark room. */
@media (prefers-color-scheme:dark){
:root{--bg:#0e131a;--panel:#161e29;--ink:#e3e9f1;--muted:#98a6b8;--line:#283342;
--ok-bg:#11301f;--rec-bg:#0f2d2a;--sus-bg:#372a0c;--rem-bg:#3a2412;--down-bg:#3b1515;--esc-bg:#3a1520;--unk-bg:#222b36;color-scheme:dark}
.top{background:#080c11}
.st-ok.cell,.card.st-ok{color:#8fe0ae;border-color:#1e4a31}.st-recovered.cell,.card.st-recovered{color:#86d9cf;border-color:#1b4843}
.st-suspect.cell,.card.st-suspect{color:#f3cf7a;border-color:#6a5216}.st-unknown.cell,.card.st-unknown{color:#b4bfcc;border-color:#344150}
.cell.none{background:repeating-linear-gradient(45deg,#141b24,#141b24 6px,#19212c 6px,#19212c 12px)}
.banner-amber{background:#33270b;border-color:#a77a14;color:#f6dc9a}
.flag{background:#33270b;color:#f6dc9a;border-color:#a77a14}
.chip.on{background:#e3e9f1;color:#101826;border-color:#e3e9f1}
pre.out{background:#0a0f15;color:#d3dbe5}pre.cmd{background:#05080c}
.ubar .u-none{fill:#3a4655}
}
`;

/**
 * Live without reload: the daemon says "changed" over SSE (/events); the page asks for its own
 * fragment again and swaps it in. Without SSE (a proxy that buffers) it polls every 5 s.
 */
export const CLIENT_SCRIPT = `
(function(){
  var main=document.getElementById('live'),meta=document.getElementById('meta'),dot=document.getElementById('live-state');
  var busy=false,again=false,forced=false,gap=0,last=0,later=null;
  function url(){var u=new URL(location.href);u.searchParams.set('fragment','1');u.searchParams.delete('token');return u.toString();}
  // The search box keeps what is being typed (and its caret) when the grid is swapped under it.
  function swap(html){
    var a=document.activeElement,keep=null;
    if(a&&a.id&&main.contains(a))keep={id:a.id,v:a.value,s:a.selectionStart,e:a.selectionEnd};
    main.innerHTML=html;
    if(keep){var n=document.getElementById(keep.id);if(n){if(n.tagName==='INPUT')n.value=keep.v;n.focus();try{if(n.tagName==='INPUT')n.setSelectionRange(keep.s,keep.e);}catch(x){}}}
  }
  // Never more often than a few times what one answer costs: a large fleet's page is not asked for in a loop.
  function refresh(force){
    if(force)forced=true;
    if(busy){again=true;return;}
    var wait=last+gap-Date.now();
    if(wait>0&&!forced){if(!later)later=setTimeout(function(){later=null;refresh();},wait);return;}
    busy=true;var f0=forced;forced=false;var t0=Date.now();
    fetch(url(),{credentials:'same-origin',cache:'no-store'}).then(function(r){if(!r.ok)throw new Error(r.status);return r.json();}).then(function(f){
      if(f0||String(f.version)!==main.getAttribute('data-version')){swap(f.main);main.setAttribute('data-version',String(f.version));}
      meta.innerHTML=f.meta;
    }).catch(function(){}).then(function(){last=Date.now();gap=Math.min(5000,3*(last-t0));busy=false;if(again||forced){again=false;refresh();}});
  }
  // Search and state filter as one types: the address follows (a link to it shows the same), the grid comes from the server.
  var typing=null;
  function find(){
    var q=document.getElementById('find-q'),st=document.getElementById('find-state');if(!q)return;
    var u=new URL(location.href);
    if(q.value.trim())u.searchParams.set('q',q.value.trim());else u.searchParams.delete('q');
    if(st&&st.value)u.searchParams.set('state',st.value);else u.searchParams.delete('state');
    u.searchParams.delete('page');u.searchParams.delete('token');
    history.replaceState(null,'',u.pathname+(u.search||''));
    refresh(true);
  }
  main.addEventListener('input',function(e){if(e.target&&e.target.id==='find-q'){clearTimeout(typing);typing=setTimeout(find,250);}});
  main.addEventListener('change',function(e){if(e.target&&e.target.id==='find-state')find();});
  main.addEventListener('submit',function(e){if(e.target&&e.target.classList&&e.target.classList.contains('find')){e.preventDefault();clearTimeout(typing);find();}});
  function live(on){dot.textContent=dot.getAttribute(on?'data-on':'data-off');dot.className=on?'live':'live off';}
  var poll=null;
  if(window.EventSource){
    var es=new EventSource('/events');
    es.addEventListener('update',function(){refresh();});
    es.onopen=function(){live(true);refresh();};
    es.onerror=function(){live(false);};
  } else { poll=setInterval(refresh,5000); }
  setInterval(refresh,30000);
})();
`;
