// k8s-validate checks rendered Kubernetes manifests offline, the way an API server would
// decode them, plus the references between them that only show up once deployed.
//
//	k8s-validate [-json] [file ...]     (no file: standard input)
//
// Every document is decoded strictly (unknown or duplicate fields, wrong types and
// case-mismatched keys are errors, as with `kubectl apply --validate=strict`) into the Go
// type the API server itself uses: k8s.io/api for the built-in kinds of the Kubernetes
// release this module pins (go.mod; scripts/deploy-tools.sh derives KUBE_VERSION from it),
// the Gateway API's types for HTTPRoute, and the Prometheus Operator's for ServiceMonitor and
// PodMonitor. A kind known to none of them is an error, so nothing is skipped silently.
//
// Then, across the bundle: names, labels and port names are valid; selectors match their
// pod templates; Services, PodDisruptionBudgets, ServiceMonitors and NetworkPolicies select
// something; Ingress, HTTPRoute, HPA and StatefulSet targets exist; probe and NetworkPolicy
// ports are declared; ConfigMap, Secret and ServiceAccount references (and their keys)
// exist; $(VAR) references resolve; requests do not exceed limits; runAsNonRoot comes with a
// numeric runAsUser; a preStop sleep fits in the grace period; a topology spread selects the
// pod's own replicas.
//
// Errors go to stderr, one per line, and the exit status is 1; an input without a single
// object is an error too (a broken `helm template | k8s-validate` pipeline must not pass).
// With -json the documents are printed to stdout as one JSON array (so tests can inspect
// them without a YAML parser).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	sigsjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

// object is one decoded document.
type object struct {
	source string
	gvk    schema.GroupVersionKind
	meta   metav1.Object
	typed  runtime.Object
	raw    map[string]any
}

func (o *object) id() string {
	return fmt.Sprintf("%s %s/%s (%s)", o.gvk.Kind, o.meta.GetNamespace(), o.meta.GetName(), o.source)
}

type validator struct {
	scheme  *runtime.Scheme
	objects []*object
	errs    []string
}

func (v *validator) errorf(o *object, format string, args ...any) {
	prefix := "input"
	if o != nil {
		prefix = o.id()
	}
	v.errs = append(v.errs, prefix+": "+fmt.Sprintf(format, args...))
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{scheme.AddToScheme, monitoringv1.AddToScheme, gatewayv1.Install} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

var sourceComment = regexp.MustCompile(`(?m)^# Source: (\S+)`)

// load splits a multi-document stream and decodes every document strictly.
func (v *validator) load(name string, r io.Reader) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for index := 0; ; index++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			v.errorf(nil, "%s: reading document %d: %v", name, index, err)
			return
		}
		source := fmt.Sprintf("%s#%d", name, index)
		if m := sourceComment.FindSubmatch(doc); m != nil {
			source = string(m[1])
		}
		v.decode(source, doc)
	}
}

func (v *validator) decode(source string, doc []byte) {
	fail := func(format string, args ...any) {
		v.errs = append(v.errs, source+": "+fmt.Sprintf(format, args...))
	}
	data, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		fail("not valid YAML: %v", err)
		return
	}
	if t := bytes.TrimSpace(data); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return // only comments
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		fail("a manifest must be a mapping: %v", err)
		return
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(data, &tm); err != nil || tm.APIVersion == "" || tm.Kind == "" {
		fail("apiVersion and kind are required")
		return
	}
	gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	typed, err := v.scheme.New(gvk)
	if err != nil {
		fail("unknown kind %s in %s: not a built-in kind of this Kubernetes version nor a known custom resource", tm.Kind, tm.APIVersion)
		return
	}
	strictErrs, err := sigsjson.UnmarshalStrict(data, typed)
	if err != nil {
		fail("%s does not decode: %v", tm.Kind, err)
		return
	}
	for _, e := range strictErrs {
		fail("%s: %v", tm.Kind, e)
	}
	meta, ok := typed.(metav1.Object)
	if !ok {
		fail("%s has no object metadata", tm.Kind)
		return
	}
	v.objects = append(v.objects, &object{source: source, gvk: gvk, meta: meta, typed: typed, raw: raw})
}

// --- checks of one object --------------------------------------------------------------

func (v *validator) checkMeta(o *object) {
	name := o.meta.GetName()
	if name == "" {
		v.errorf(o, "metadata.name is required")
	}
	nameCheck := validation.IsDNS1123Subdomain
	if o.gvk.Kind == "Service" {
		nameCheck = validation.IsDNS1035Label
	}
	for _, msg := range nameCheck(name) {
		v.errorf(o, "metadata.name %q: %s", name, msg)
	}
	if ns := o.meta.GetNamespace(); ns != "" {
		for _, msg := range validation.IsDNS1123Label(ns) {
			v.errorf(o, "metadata.namespace %q: %s", ns, msg)
		}
	}
	v.checkLabels(o, "metadata.labels", o.meta.GetLabels())
	for key := range o.meta.GetAnnotations() {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(key)) {
			v.errorf(o, "annotation key %q: %s", key, msg)
		}
	}
}

func (v *validator) checkLabels(o *object, where string, set map[string]string) {
	for key, value := range set {
		for _, msg := range validation.IsQualifiedName(key) {
			v.errorf(o, "%s key %q: %s", where, key, msg)
		}
		for _, msg := range validation.IsValidLabelValue(value) {
			v.errorf(o, "%s %q value %q: %s", where, key, value, msg)
		}
	}
}

// podTemplate returns the pod template of a workload (nil for other kinds).
func podTemplate(o *object) (*metav1.ObjectMeta, *corev1.PodSpec, *metav1.LabelSelector) {
	switch t := o.typed.(type) {
	case *appsv1.Deployment:
		return &t.Spec.Template.ObjectMeta, &t.Spec.Template.Spec, t.Spec.Selector
	case *appsv1.StatefulSet:
		return &t.Spec.Template.ObjectMeta, &t.Spec.Template.Spec, t.Spec.Selector
	case *appsv1.DaemonSet:
		return &t.Spec.Template.ObjectMeta, &t.Spec.Template.Spec, t.Spec.Selector
	case *batchv1.Job:
		return &t.Spec.Template.ObjectMeta, &t.Spec.Template.Spec, nil
	case *corev1.Pod:
		return &t.ObjectMeta, &t.Spec, nil
	}
	return nil, nil, nil
}

func (v *validator) checkWorkload(o *object) {
	meta, spec, selector := podTemplate(o)
	if spec == nil {
		return
	}
	v.checkLabels(o, "pod labels", meta.Labels)
	if o.gvk.Kind != "Pod" && o.gvk.Kind != "Job" {
		if selector == nil || (len(selector.MatchLabels) == 0 && len(selector.MatchExpressions) == 0) {
			v.errorf(o, "spec.selector is required")
		} else if sel, err := metav1.LabelSelectorAsSelector(selector); err != nil {
			v.errorf(o, "spec.selector: %v", err)
		} else if !sel.Matches(labels.Set(meta.Labels)) {
			v.errorf(o, "spec.selector %s does not match the pod template's labels", sel)
		}
	}
	volumes := map[string]bool{}
	for _, vol := range spec.Volumes {
		if volumes[vol.Name] {
			v.errorf(o, "volume %q declared twice", vol.Name)
		}
		volumes[vol.Name] = true
		if vol.ConfigMap != nil {
			v.requireObject(o, "ConfigMap", vol.ConfigMap.Name, vol.ConfigMap.Optional)
		}
		if vol.Secret != nil {
			v.requireObject(o, "Secret", vol.Secret.SecretName, vol.Secret.Optional)
		}
	}
	if sts, ok := o.typed.(*appsv1.StatefulSet); ok {
		for _, claim := range sts.Spec.VolumeClaimTemplates {
			volumes[claim.Name] = true
		}
		if sts.Spec.ServiceName != "" && v.find("Service", o.meta.GetNamespace(), sts.Spec.ServiceName) == nil {
			v.errorf(o, "spec.serviceName %q: no such Service", sts.Spec.ServiceName)
		}
	}
	if len(spec.Containers) == 0 {
		v.errorf(o, "a pod needs at least one container")
	}
	if name := spec.ServiceAccountName; name != "" && name != "default" && v.find("ServiceAccount", o.meta.GetNamespace(), name) == nil {
		v.errorf(o, "serviceAccountName %q: no such ServiceAccount in the manifests", name)
	}
	for _, spread := range spec.TopologySpreadConstraints {
		if sel, err := metav1.LabelSelectorAsSelector(spread.LabelSelector); err != nil || sel.Empty() || !sel.Matches(labels.Set(meta.Labels)) {
			v.errorf(o, "topologySpreadConstraint on %s: its labelSelector must select this pod's own replicas", spread.TopologyKey)
		}
	}
	podRunAsUser := spec.SecurityContext != nil && spec.SecurityContext.RunAsUser != nil
	podNonRoot := spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if spec.TerminationGracePeriodSeconds != nil {
		grace = *spec.TerminationGracePeriodSeconds
	}
	containerNames := map[string]bool{}
	portNames := map[string]bool{}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for i := range all {
		c := &all[i]
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			v.errorf(o, "container name %q: %s", c.Name, msg)
		}
		if containerNames[c.Name] {
			v.errorf(o, "container %q declared twice", c.Name)
		}
		containerNames[c.Name] = true
		if c.Image == "" {
			v.errorf(o, "container %q: image is required", c.Name)
		}
		declared := map[string]int32{}
		for _, p := range c.Ports {
			if p.Name != "" {
				for _, msg := range validation.IsValidPortName(p.Name) {
					v.errorf(o, "container %q port name %q: %s", c.Name, p.Name, msg)
				}
				if portNames[p.Name] {
					v.errorf(o, "port name %q declared twice in the pod", p.Name)
				}
				portNames[p.Name] = true
				declared[p.Name] = p.ContainerPort
			}
			for _, msg := range validation.IsValidPortNum(int(p.ContainerPort)) {
				v.errorf(o, "container %q port %d: %s", c.Name, p.ContainerPort, msg)
			}
		}
		for what, probe := range map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe} {
			if probe != nil {
				v.checkHandler(o, c.Name, what, &probe.ProbeHandler, declared)
			}
		}
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			pre := c.Lifecycle.PreStop
			if pre.Exec != nil && len(pre.Exec.Command) == 2 && pre.Exec.Command[0] == "sleep" {
				if seconds, err := strconv.ParseInt(pre.Exec.Command[1], 10, 64); err == nil && seconds >= grace {
					v.errorf(o, "container %q: preStop sleeps %d s but terminationGracePeriodSeconds is %d: SIGTERM would come with SIGKILL", c.Name, seconds, grace)
				}
			}
		}
		v.checkEnv(o, c)
		mounts := map[string]bool{}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				v.errorf(o, "container %q mounts volume %q, which is not declared", c.Name, m.Name)
			}
			if mounts[m.MountPath] {
				v.errorf(o, "container %q mounts %s twice", c.Name, m.MountPath)
			}
			mounts[m.MountPath] = true
		}
		for name, limit := range c.Resources.Limits {
			if request, ok := c.Resources.Requests[name]; ok && request.Cmp(limit) > 0 {
				v.errorf(o, "container %q: %s request %s exceeds its limit %s", c.Name, name, request.String(), limit.String())
			}
		}
		nonRoot := podNonRoot
		runAsUser := podRunAsUser
		if sc := c.SecurityContext; sc != nil {
			if sc.RunAsNonRoot != nil {
				nonRoot = *sc.RunAsNonRoot
			}
			runAsUser = runAsUser || sc.RunAsUser != nil
		}
		if nonRoot && !runAsUser {
			v.errorf(o, "container %q: runAsNonRoot without a numeric runAsUser cannot be checked by the kubelet for images whose USER is a name", c.Name)
		}
	}
}

func (v *validator) checkHandler(o *object, container, what string, h *corev1.ProbeHandler, declared map[string]int32) {
	count := 0
	var port *intstr.IntOrString
	if h.HTTPGet != nil {
		count++
		port = &h.HTTPGet.Port
	}
	if h.TCPSocket != nil {
		count++
		port = &h.TCPSocket.Port
	}
	if h.Exec != nil {
		count++
		if len(h.Exec.Command) == 0 {
			v.errorf(o, "container %q %s: exec needs a command", container, what)
		}
	}
	if h.GRPC != nil {
		count++
	}
	if count != 1 {
		v.errorf(o, "container %q %s: exactly one of exec, httpGet, tcpSocket, grpc is required", container, what)
	}
	if port == nil {
		return
	}
	if port.Type == intstr.String {
		if _, ok := declared[port.StrVal]; !ok {
			v.errorf(o, "container %q %s: port %q is not a port of this container", container, what, port.StrVal)
		}
	} else {
		for _, msg := range validation.IsValidPortNum(port.IntValue()) {
			v.errorf(o, "container %q %s: port %d: %s", container, what, port.IntValue(), msg)
		}
	}
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)`)

// checkEnv checks env names, ConfigMap / Secret references and every $(VAR) reference, which
// the kubelet resolves from envFrom and the earlier env entries (an unresolved one stays literal).
func (v *validator) checkEnv(o *object, c *corev1.Container) {
	known := map[string]bool{}
	for _, from := range c.EnvFrom {
		var keys []string
		if from.ConfigMapRef != nil {
			if cm, ok := v.requireObject(o, "ConfigMap", from.ConfigMapRef.Name, from.ConfigMapRef.Optional).(*corev1.ConfigMap); ok {
				keys = append(keysOf(cm.Data), keysOf(cm.BinaryData)...)
			}
		}
		if from.SecretRef != nil {
			if s, ok := v.requireObject(o, "Secret", from.SecretRef.Name, from.SecretRef.Optional).(*corev1.Secret); ok {
				keys = append(keysOf(s.Data), keysOf(s.StringData)...)
			}
		}
		for _, key := range keys {
			known[from.Prefix+key] = true
		}
	}
	resolve := func(where, text string) {
		for _, m := range varRef.FindAllStringSubmatch(text, -1) {
			if !known[m[1]] {
				v.errorf(o, "container %q %s: $(%s) is not defined before it (envFrom or an earlier env entry)", c.Name, where, m[1])
			}
		}
	}
	seen := map[string]bool{}
	for _, env := range c.Env {
		for _, msg := range validation.IsEnvVarName(env.Name) {
			v.errorf(o, "container %q env %q: %s", c.Name, env.Name, msg)
		}
		if seen[env.Name] {
			v.errorf(o, "container %q: env %q set twice", c.Name, env.Name)
		}
		seen[env.Name] = true
		resolve("env "+env.Name, env.Value)
		if from := env.ValueFrom; from != nil {
			if ref := from.SecretKeyRef; ref != nil {
				if s, ok := v.requireObject(o, "Secret", ref.Name, ref.Optional).(*corev1.Secret); ok && !hasKey(s.Data, ref.Key) && !hasKey(s.StringData, ref.Key) {
					v.errorf(o, "container %q env %q: Secret %q has no key %q", c.Name, env.Name, ref.Name, ref.Key)
				}
			}
			if ref := from.ConfigMapKeyRef; ref != nil {
				if cm, ok := v.requireObject(o, "ConfigMap", ref.Name, ref.Optional).(*corev1.ConfigMap); ok && !hasKey(cm.Data, ref.Key) {
					v.errorf(o, "container %q env %q: ConfigMap %q has no key %q", c.Name, env.Name, ref.Name, ref.Key)
				}
			}
		}
		known[env.Name] = true
	}
	for _, arg := range c.Command {
		resolve("command", arg)
	}
	for _, arg := range c.Args {
		resolve("args", arg)
	}
}

func keysOf[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func hasKey[T any](m map[string]T, key string) bool {
	_, ok := m[key]
	return ok
}

// --- references between objects ----------------------------------------------------------

func (v *validator) find(kind, namespace, name string) *object {
	for _, o := range v.objects {
		if o.gvk.Kind == kind && o.meta.GetNamespace() == namespace && o.meta.GetName() == name {
			return o
		}
	}
	return nil
}

// requireObject reports a missing ConfigMap / Secret unless the reference is optional.
func (v *validator) requireObject(o *object, kind, name string, optional *bool) runtime.Object {
	if found := v.find(kind, o.meta.GetNamespace(), name); found != nil {
		return found.typed
	}
	if optional == nil || !*optional {
		v.errorf(o, "refers to %s %q, which is not in the manifests", kind, name)
	}
	return nil
}

// selected returns the workloads in the namespace whose pod template labels match.
func (v *validator) selected(namespace string, sel labels.Selector) []*object {
	var found []*object
	for _, o := range v.objects {
		if meta, spec, _ := podTemplate(o); spec != nil && o.meta.GetNamespace() == namespace && o.gvk.Kind != "Pod" && sel.Matches(labels.Set(meta.Labels)) {
			found = append(found, o)
		}
	}
	return found
}

// selectedWithPods is selected plus the bare Pods (e.g. a helm test pod) that match.
func (v *validator) selectedWithPods(namespace string, sel labels.Selector) []*object {
	found := v.selected(namespace, sel)
	for _, o := range v.objects {
		if pod, ok := o.typed.(*corev1.Pod); ok && o.meta.GetNamespace() == namespace && sel.Matches(labels.Set(pod.Labels)) {
			found = append(found, o)
		}
	}
	return found
}

func (v *validator) checkService(o *object, svc *corev1.Service) {
	if len(svc.Spec.Ports) > 1 {
		for _, p := range svc.Spec.Ports {
			if p.Name == "" {
				v.errorf(o, "every port needs a name when there are several")
			}
		}
	}
	if len(svc.Spec.Selector) == 0 {
		return
	}
	workloads := v.selected(o.meta.GetNamespace(), labels.SelectorFromSet(svc.Spec.Selector))
	if len(workloads) == 0 {
		v.errorf(o, "selector %v matches no workload", svc.Spec.Selector)
	}
	for _, p := range svc.Spec.Ports {
		if p.TargetPort.Type != intstr.String {
			continue
		}
		for _, w := range workloads {
			if !podHasPort(w, p.TargetPort.StrVal) {
				v.errorf(o, "targetPort %q is not a container port of %s", p.TargetPort.StrVal, w.id())
			}
		}
	}
}

func podHasPort(w *object, name string) bool {
	_, spec, _ := podTemplate(w)
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func (v *validator) checkIngress(o *object, ing *networkingv1.Ingress) {
	check := func(where string, b *networkingv1.IngressBackend) {
		if b == nil || b.Service == nil {
			return
		}
		target := v.find("Service", o.meta.GetNamespace(), b.Service.Name)
		if target == nil {
			v.errorf(o, "%s: no Service %q", where, b.Service.Name)
			return
		}
		for _, p := range target.typed.(*corev1.Service).Spec.Ports {
			if (b.Service.Port.Name != "" && p.Name == b.Service.Port.Name) || (b.Service.Port.Name == "" && p.Port == b.Service.Port.Number) {
				return
			}
		}
		v.errorf(o, "%s: Service %q has no port %v", where, b.Service.Name, b.Service.Port)
	}
	check("defaultBackend", ing.Spec.DefaultBackend)
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, path := range rule.HTTP.Paths {
			if path.PathType == nil {
				v.errorf(o, "path %q: pathType is required", path.Path)
			}
			if !strings.HasPrefix(path.Path, "/") {
				v.errorf(o, "path %q must start with /", path.Path)
			}
			check("path "+path.Path, &path.Backend)
		}
	}
}

// checkHTTPRoute: a parent Gateway (outside the bundle, like an IngressClass) and backends
// that are Services of the bundle with the port asked for.
func (v *validator) checkHTTPRoute(o *object, route *gatewayv1.HTTPRoute) {
	if len(route.Spec.ParentRefs) == 0 {
		v.errorf(o, "spec.parentRefs: at least one Gateway is required")
	}
	for i, rule := range route.Spec.Rules {
		for _, ref := range rule.BackendRefs {
			if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Service") {
				continue
			}
			namespace := o.meta.GetNamespace()
			if ref.Namespace != nil {
				namespace = string(*ref.Namespace)
			}
			target := v.find("Service", namespace, string(ref.Name))
			if target == nil {
				v.errorf(o, "rule %d: backend Service %q is not in the manifests", i, ref.Name)
				continue
			}
			if ref.Port == nil {
				v.errorf(o, "rule %d: backend Service %q needs a port", i, ref.Name)
				continue
			}
			found := false
			for _, p := range target.typed.(*corev1.Service).Spec.Ports {
				found = found || p.Port == int32(*ref.Port)
			}
			if !found {
				v.errorf(o, "rule %d: Service %q has no port %d", i, ref.Name, *ref.Port)
			}
		}
	}
}

// checkNetworkPolicy: the policy selects pods of the bundle; peers chosen by pod labels in
// this namespace exist; a named port is a port of the pods it is meant for.
func (v *validator) checkNetworkPolicy(o *object, np *networkingv1.NetworkPolicy) {
	namespace := o.meta.GetNamespace()
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		v.errorf(o, "spec.podSelector: %v", err)
		return
	}
	targets := v.selectedWithPods(namespace, sel)
	if len(targets) == 0 {
		v.errorf(o, "spec.podSelector %s matches no workload", sel)
	}
	peers := func(where string, list []networkingv1.NetworkPolicyPeer) [][]*object {
		var found [][]*object
		for _, peer := range list {
			if peer.PodSelector == nil || peer.NamespaceSelector != nil {
				continue
			}
			psel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
			if err != nil {
				v.errorf(o, "%s podSelector: %v", where, err)
				continue
			}
			matched := v.selectedWithPods(namespace, psel)
			if len(matched) == 0 {
				v.errorf(o, "%s: podSelector %s matches no pod of the manifests", where, psel)
			}
			found = append(found, matched)
		}
		return found
	}
	namedPorts := func(where string, ports []networkingv1.NetworkPolicyPort, pods []*object) {
		for _, port := range ports {
			if port.Port == nil || port.Port.Type != intstr.String {
				continue
			}
			for _, w := range pods {
				if _, spec, _ := podTemplate(w); spec != nil && !podHasPort(w, port.Port.StrVal) {
					v.errorf(o, "%s: port %q is not a container port of %s", where, port.Port.StrVal, w.id())
				}
			}
		}
	}
	for i, rule := range np.Spec.Ingress {
		where := fmt.Sprintf("ingress rule %d", i)
		peers(where, rule.From)
		namedPorts(where, rule.Ports, targets)
	}
	for i, rule := range np.Spec.Egress {
		where := fmt.Sprintf("egress rule %d", i)
		for _, group := range peers(where, rule.To) {
			namedPorts(where, rule.Ports, group)
		}
	}
}

func (v *validator) checkHPA(o *object, hpa *autoscalingv2.HorizontalPodAutoscaler) {
	if hpa.Spec.MinReplicas != nil && *hpa.Spec.MinReplicas > hpa.Spec.MaxReplicas {
		v.errorf(o, "minReplicas %d is above maxReplicas %d", *hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
	ref := hpa.Spec.ScaleTargetRef
	target := v.find(ref.Kind, o.meta.GetNamespace(), ref.Name)
	if target == nil {
		v.errorf(o, "scaleTargetRef %s %q is not in the manifests", ref.Kind, ref.Name)
		return
	}
	if target.gvk.GroupVersion().String() != ref.APIVersion {
		v.errorf(o, "scaleTargetRef apiVersion %s, but the target is %s", ref.APIVersion, target.gvk.GroupVersion())
	}
	_, spec, _ := podTemplate(target)
	for _, metric := range hpa.Spec.Metrics {
		if metric.Resource == nil || metric.Resource.Target.Type != autoscalingv2.UtilizationMetricType || spec == nil {
			continue
		}
		for _, c := range spec.Containers {
			if _, ok := c.Resources.Requests[metric.Resource.Name]; !ok {
				v.errorf(o, "scales on %s utilization, but container %q of %s has no %s request", metric.Resource.Name, c.Name, ref.Name, metric.Resource.Name)
			}
		}
	}
}

func (v *validator) checkPDB(o *object, pdb *policyv1.PodDisruptionBudget) {
	if (pdb.Spec.MinAvailable == nil) == (pdb.Spec.MaxUnavailable == nil) {
		v.errorf(o, "exactly one of minAvailable and maxUnavailable is required")
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || sel.Empty() {
		v.errorf(o, "a non-empty selector is required")
		return
	}
	if len(v.selected(o.meta.GetNamespace(), sel)) == 0 {
		v.errorf(o, "selector %s matches no workload", sel)
	}
}

func (v *validator) checkServiceMonitor(o *object, sm *monitoringv1.ServiceMonitor) {
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil {
		v.errorf(o, "selector: %v", err)
		return
	}
	var services []*corev1.Service
	for _, c := range v.objects {
		if svc, ok := c.typed.(*corev1.Service); ok && c.meta.GetNamespace() == o.meta.GetNamespace() && sel.Matches(labels.Set(svc.Labels)) {
			services = append(services, svc)
		}
	}
	if len(services) == 0 {
		v.errorf(o, "selector %s matches no Service", sel)
	}
	for _, endpoint := range sm.Spec.Endpoints {
		for _, svc := range services {
			found := false
			for _, p := range svc.Spec.Ports {
				found = found || p.Name == endpoint.Port
			}
			if endpoint.Port != "" && !found {
				v.errorf(o, "endpoint port %q is not a port of Service %q", endpoint.Port, svc.Name)
			}
		}
	}
}

func (v *validator) run() {
	seen := map[string]*object{}
	for _, o := range v.objects {
		key := o.gvk.GroupKind().String() + " " + o.meta.GetNamespace() + "/" + o.meta.GetName()
		if first, ok := seen[key]; ok {
			v.errorf(o, "same kind and name as %s", first.source)
		}
		seen[key] = o
		v.checkMeta(o)
		v.checkWorkload(o)
		switch t := o.typed.(type) {
		case *corev1.Service:
			v.checkService(o, t)
		case *networkingv1.Ingress:
			v.checkIngress(o, t)
		case *autoscalingv2.HorizontalPodAutoscaler:
			v.checkHPA(o, t)
		case *policyv1.PodDisruptionBudget:
			v.checkPDB(o, t)
		case *monitoringv1.ServiceMonitor:
			v.checkServiceMonitor(o, t)
		case *gatewayv1.HTTPRoute:
			v.checkHTTPRoute(o, t)
		case *networkingv1.NetworkPolicy:
			v.checkNetworkPolicy(o, t)
		case *corev1.PersistentVolumeClaim:
			if _, ok := t.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
				v.errorf(o, "a storage request is required")
			}
		}
	}
}

func main() {
	asJSON := flag.Bool("json", false, "print the documents as one JSON array on stdout")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: k8s-validate [-json] [file ...]   (no file: standard input)")
		flag.PrintDefaults()
	}
	flag.Parse()
	v := &validator{scheme: newScheme()}
	if flag.NArg() == 0 {
		v.load("stdin", os.Stdin)
	}
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		v.load(name, f)
		f.Close()
	}
	v.run()
	if len(v.objects) == 0 && len(v.errs) == 0 {
		v.errs = append(v.errs, "input: no Kubernetes object at all (did the command that rendered it fail?)")
	}
	if *asJSON {
		docs := make([]map[string]any, 0, len(v.objects))
		for _, o := range v.objects {
			docs = append(docs, o.raw)
		}
		out, _ := json.Marshal(docs)
		fmt.Println(string(out))
	}
	if len(v.errs) > 0 {
		sort.Strings(v.errs)
		for _, e := range v.errs {
			fmt.Fprintln(os.Stderr, e)
		}
		fmt.Fprintf(os.Stderr, "k8s-validate: %d error(s) in %d object(s)\n", len(v.errs), len(v.objects))
		os.Exit(1)
	}
	kinds := map[string]int{}
	for _, o := range v.objects {
		kinds[o.gvk.Kind]++
	}
	var summary []string
	for kind, n := range kinds {
		summary = append(summary, fmt.Sprintf("%d %s", n, kind))
	}
	sort.Strings(summary)
	fmt.Fprintf(os.Stderr, "k8s-validate: %d object(s) valid: %s\n", len(v.objects), strings.Join(summary, ", "))
}
