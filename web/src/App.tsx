import { Route, Router, type RouteSectionProps } from "@solidjs/router";
import { Toasts } from "./components/Toasts";
import { SignIn, SignUp } from "./routes/Auth";
import { Home, NotFound } from "./routes/Home";
import { RoomRoute } from "./routes/RoomView";
import { Shell } from "./routes/Shell";
import { ThreadsView } from "./routes/ThreadsView";
import { SearchView } from "./routes/SearchView";

function Root(props: RouteSectionProps) {
  return (
    <>
      {props.children}
      <Toasts />
    </>
  );
}

export function App() {
  return (
    <Router root={Root}>
      <Route path="/signin" component={SignIn} />
      <Route path="/signup" component={SignUp} />
      <Route path="/" component={Shell}>
        <Route path="/" component={Home} />
        <Route path="/rooms/:roomId" component={RoomRoute} />
        <Route path="/threads" component={ThreadsView} />
        <Route path="/search" component={SearchView} />
      </Route>
      <Route path="*404" component={NotFound} />
    </Router>
  );
}
