// Sign in and sign up: the only screens for people without a session.
import { FIELDS, maxInputLength } from "@parley/proto/rules";
import { A, Navigate, useNavigate, useSearchParams } from "@solidjs/router";
import { createSignal, Show, type JSX } from "solid-js";
import { createSubmit } from "../lib/form";
import { adopt, endReason, isSignedIn, publicApi } from "../lib/session";
import { FormError } from "../components/FormError";
import { ThemeToggle } from "../components/ThemeToggle";
import "./Auth.css";

function AuthLayout(props: { title: string; children: JSX.Element; footer: JSX.Element }) {
  return (
    <div class="auth-page">
      <div class="auth-theme">
        <ThemeToggle />
      </div>
      <main class="auth-card" id="main">
        <div class="brand-mark" aria-hidden="true">
          P
        </div>
        <h1>{props.title}</h1>
        {props.children}
        <p class="auth-switch">{props.footer}</p>
      </main>
    </div>
  );
}

function useAfterAuth() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  return () => {
    const next = typeof params.next === "string" && params.next.startsWith("/") && !params.next.startsWith("//") ? params.next : "/";
    navigate(next, { replace: true });
  };
}

export function SignIn() {
  const [login, setLogin] = createSignal("");
  const [password, setPassword] = createSignal("");
  const form = createSubmit();
  const done = useAfterAuth();

  const submit = form.onSubmit(async () => {
    adopt(await publicApi.auth.login.mutate({ login: login().trim(), password: password() }));
    done();
  });

  return (
    <Show when={!isSignedIn()} fallback={<Navigate href="/" />}>
      <AuthLayout title="Sign in to Parley" footer={<>New here? <A href="/signup">Create an account</A></>}>
        <Show when={endReason()}>
          <p class="notice" role="status">
            {endReason()}
          </p>
        </Show>
        <form class="form" onSubmit={submit} novalidate>
          <label class="field">
            <span>Email or username</span>
            <input name="login" autocomplete="username" required autofocus value={login()} onInput={(e) => setLogin(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span>Password</span>
            <input
              name="password"
              type="password"
              autocomplete="current-password"
              required
              value={password()}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </label>
          <FormError error={form.error()} />
          <button class="button primary wide" type="submit" disabled={form.busy() || !login() || !password()}>
            {form.busy() ? "Signing in…" : "Sign in"}
          </button>
        </form>
      </AuthLayout>
    </Show>
  );
}

export function SignUp() {
  const [email, setEmail] = createSignal("");
  const [username, setUsername] = createSignal("");
  const [displayName, setDisplayName] = createSignal("");
  const [password, setPassword] = createSignal("");
  const form = createSubmit();
  const done = useAfterAuth();

  // Every field's problem at once, each under its field (the server names only the first).
  const [problems, setProblems] = createSignal<Record<string, string>>({});
  const check = (): Record<string, string> => {
    const found: Record<string, string> = {};
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email().trim())) found.email = "Enter a valid email address";
    if (!/^[A-Za-z0-9_.-]{3,32}$/.test(username().trim())) found.username = "Username: 3–32 letters, digits, “_”, “.” or “-”";
    if (password().length < FIELDS.password.min) found.password = `Password: at least ${FIELDS.password.min} characters`;
    return found;
  };
  const problem = (field: string): string | undefined => problems()[field];
  const describedBy = (field: string, hint?: string): string | undefined =>
    [hint, problem(field) ? `${field}-error` : undefined].filter(Boolean).join(" ") || undefined;
  const submit = form.onSubmit(async () => {
    const found = check();
    setProblems(found);
    if (Object.keys(found).length > 0) return;
    const name = displayName().trim();
    adopt(
      await publicApi.auth.register.mutate({
        email: email().trim(),
        username: username().trim(),
        password: password(),
        ...(name && { displayName: name }),
      }),
    );
    done();
  });
  const invalid = (field: string) => (problem(field) ? ("true" as const) : form.invalid(field));
  const FieldError = (p: { field: string }) => (
    <Show when={problem(p.field)}>
      {(text) => (
        <small class="field-error" id={`${p.field}-error`} data-testid={`${p.field}-error`}>
          {text()}
        </small>
      )}
    </Show>
  );

  return (
    <Show when={!isSignedIn()} fallback={<Navigate href="/" />}>
      <AuthLayout title="Create your account" footer={<>Already have an account? <A href="/signin">Sign in</A></>}>
        <form class="form" onSubmit={submit} novalidate>
          <label class="field">
            <span>Email</span>
            <input
              name="email"
              type="email"
              autocomplete="email"
              required
              autofocus
              aria-invalid={invalid("email")}
              aria-describedby={describedBy("email")}
              value={email()}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
            <FieldError field="email" />
          </label>
          <label class="field">
            <span>Username</span>
            <input
              name="username"
              autocomplete="username"
              required
              pattern="[A-Za-z0-9_.\-]{3,32}"
              aria-describedby={describedBy("username", "username-hint")}
              aria-invalid={invalid("username")}
              value={username()}
              onInput={(e) => setUsername(e.currentTarget.value)}
            />
            <small id="username-hint">3–32 letters, digits, “_”, “.” or “-”</small>
            <FieldError field="username" />
          </label>
          <label class="field">
            <span>
              Display name <small>(optional)</small>
            </span>
            <input name="displayName" autocomplete="name" maxLength={maxInputLength(FIELDS.signUpDisplayName)} value={displayName()} onInput={(e) => setDisplayName(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span>Password</span>
            <input
              name="password"
              type="password"
              autocomplete="new-password"
              required
              minLength={FIELDS.password.min}
              aria-describedby={describedBy("password", "password-hint")}
              aria-invalid={invalid("password")}
              value={password()}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
            <small id="password-hint">At least 8 characters</small>
            <FieldError field="password" />
          </label>
          <FormError error={form.error()} />
          <button class="button primary wide" type="submit" disabled={form.busy() || !email() || !username() || !password()}>
            {form.busy() ? "Creating account…" : "Create account"}
          </button>
        </form>
      </AuthLayout>
    </Show>
  );
}
